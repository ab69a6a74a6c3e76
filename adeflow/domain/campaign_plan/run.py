"""One campaign run: its name, the VMs it hands to a rollout (with their decided settings), its summary."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

from adeflow.domain.campaign_plan.payloads import (
    WORK,
    Action,
    CampaignInput,
    CampaignResult,
    KekVersion,
    RunningVmRun,
    VmPlan,
)
from adeflow.domain.fleet import VmSettings
from adeflow.domain.model import KeyEncryptionKey, VmRef, VolumeType
from adeflow.domain.rollout import RolloutResult

MAX_NAME = 46
"""A campaign name plus ``-YYYYMMDDTHHMMSSZ`` stays within a rollout id's 63 characters."""

_SCHEDULED_SUFFIX = re.compile(r"-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$")


def campaign_run_name(name: str, at: datetime) -> str:
    """``<name>-YYYYMMDDTHHMMSSZ``: one per schedule action, so a rollout id never repeats across runs."""
    return f"{name}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def scheduled_time(workflow_id: str) -> datetime | None:
    """The action time a schedule appends to its workflow ids (``campaign/x-2026-11-28T19:26:37Z``)."""
    match = _SCHEDULED_SUFFIX.search(workflow_id)
    if match is None:
        return None
    return datetime.fromisoformat(match[1].replace("Z", "+00:00"))


def needing_work(plans: list[VmPlan]) -> list[VmPlan]:
    return [p for p in plans if p.action in WORK]


def mark_elsewhere(plans: list[VmPlan], running: list[RunningVmRun]) -> list[VmPlan]:
    """VMs that another run is encrypting now are left to it and reported, not sent to this rollout."""
    by_key = {r.vm.key.lower(): r for r in running}
    marked: list[VmPlan] = []
    for plan in plans:
        run = by_key.get(plan.vm.key.lower())
        if run is None or plan.action not in WORK:
            marked.append(plan)
            continue
        owner = f"rollout {run.rollout_id}" if run.rollout_id else "a single-VM run"
        reason = f"would {plan.action.value}, but {owner} ({run.workflow_id}) is encrypting it now; left to it."
        marked.append(replace(plan, action=Action.ELSEWHERE, reason=reason))
    return marked


def rollout_vms(
    plans: list[VmPlan], settings: list[VmSettings], target: KekVersion | None
) -> list[tuple[VmRef, VmSettings]]:
    """The rollout's VMs with their settings: the campaign's, with the volume type, vault and KEK decided here."""
    vms: list[tuple[VmRef, VmSettings]] = []
    for plan in needing_work(plans):
        base = settings[plan.settings_index]
        kek = base.kek
        if plan.action is Action.ROTATE_KEK and target is not None:
            kek = KeyEncryptionKey(target.url, target.vault_id)
        vms.append(
            (
                plan.vm,
                replace(
                    base,
                    volume_type=VolumeType(plan.volume_type) if plan.volume_type else base.volume_type,
                    key_vault_id=plan.key_vault_id or base.key_vault_id,
                    kek=kek,
                ),
            )
        )
    return vms


def summarise(
    request: CampaignInput,
    run: str,
    action_time: datetime,
    plans: list[VmPlan],
    rollout: RolloutResult | None = None,
    notes: list[str] | None = None,
) -> CampaignResult:
    """Counts per action, ADE state and retirement path; the rollout's counts when one ran."""
    return CampaignResult(
        name=request.name,
        kind=request.kind,
        run=run,
        action_time=action_time.astimezone(UTC).isoformat(),
        total=len(plans),
        actions=dict(Counter(p.action.value for p in plans)),
        states=dict(Counter(p.state.value for p in plans)),
        retirement=dict(Counter(p.retirement.value for p in plans)),
        rollout_id=rollout.rollout_id if rollout else "",
        rollout_stage=rollout.stage.value if rollout else "",
        rollout_counts={k: v for k, v in rollout.counts.items() if v} if rollout else {},
        notes=list(notes or []),
    )
