"""What operators read about a campaign run: the report files (JSON, CSV, Markdown) and the webhook's summary.

Pure rendering, so the formats are tested without a server; the report activity writes what these return.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from adeflow.domain.campaign_plan.payloads import WORK, Action, CampaignReport, CampaignResult, VmPlan
from adeflow.domain.campaign_plan.state import ADE_RETIREMENT, RETIREMENT_ADVICE, RetirementPath, days_to_retirement

CSV_FIELDS = (
    "vm",
    "resource_group",
    "subscription",
    "state",
    "action",
    "rule",
    "volume_type",
    "current_kek",
    "target_kek",
    "kek_age_days",
    "drift",
    "rotate",
    "retirement",
    "reason",
)


def _row(plan: VmPlan) -> dict[str, Any]:
    return {
        "vm": plan.vm.name,
        "resource_group": plan.vm.resource_group,
        "subscription": plan.vm.subscription_id,
        "state": plan.state.value,
        "action": plan.action.value,
        "rule": plan.rule,
        "volume_type": plan.volume_type,
        "current_kek": plan.current_kek,
        "target_kek": plan.target_kek,
        "kek_age_days": "" if plan.kek_age_days is None else plan.kek_age_days,
        "drift": plan.drift,
        "rotate": plan.rotate,
        "retirement": plan.retirement.value,
        "reason": plan.reason,
    }


def _days_left(result: CampaignResult) -> int:
    return days_to_retirement(datetime.fromisoformat(result.action_time))


def retirement_summary(result: CampaignResult) -> dict[str, Any]:
    """ADE's deadline and the fleet's count per migration path, with what each path takes."""
    return {
        "ade_retirement": ADE_RETIREMENT.isoformat(),
        "days_left": _days_left(result),
        "paths": {
            path.value: {"vms": result.retirement.get(path.value, 0), "what_to_do": RETIREMENT_ADVICE[path]}
            for path in RetirementPath
            if result.retirement.get(path.value)
        },
    }


def report_json(report: CampaignReport) -> str:
    result = report.result
    return json.dumps(
        {
            "campaign": result.name,
            "kind": result.kind.value,
            "run": result.run,
            "action_time": result.action_time,
            "source": report.source,
            "selectors": report.selected,
            "target_kek": report.target_kek,
            "summary": {"vms": result.total, "actions": result.actions, "states": result.states},
            "retirement": retirement_summary(result),
            "rollout": {
                "id": result.rollout_id,
                "stage": result.rollout_stage,
                "counts": result.rollout_counts,
                "notes": [asdict(n) for n in report.rollout_notes],
            },
            "notes": result.notes,
            "vms": [_row(p) for p in report.plans],
        },
        indent=2,
    )


def report_csv(plans: list[VmPlan]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_FIELDS))
    writer.writeheader()
    for plan in plans:
        writer.writerow(_row(plan))
    return out.getvalue()


def _cell(text: str) -> str:
    return (text or "-").replace("|", "\\|").replace("\n", " ")


def counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def report_markdown(report: CampaignReport) -> str:
    result = report.result
    plans = report.plans
    lines = [
        f"# Campaign {result.name} ({result.kind.value}): run {result.run}",
        "",
        f"Action time {result.action_time}; campaign file `{report.source or '-'}`.",
        "",
        *(f"- Selector {line}" for line in report.selected),
        *([""] if report.selected else []),
        f"**{result.total} VMs**: {counts_line(result.actions)}.",
        "",
    ]
    if report.target_kek:
        lines += [f"Target KEK: `{report.target_kek}`.", ""]
    if result.rollout_id:
        lines += [
            f"Rollout `{result.rollout_id}` ({result.rollout_stage or 'started'}): "
            f"{counts_line(result.rollout_counts)}. `adeflow rollout status {result.rollout_id}` follows it.",
            "",
        ]
    lines += [f"- {note}" for note in result.notes]
    if result.notes:
        lines.append("")
    work = [p for p in plans if p.action in WORK]
    if work:
        lines += ["## VMs sent to the rollout", "", "| VM | resource group | state | action | volume type | why |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {p.vm.name} | {p.vm.resource_group} | {p.state.value} | {p.action.value} | {p.volume_type or '-'} "
            f"| {_cell(p.reason)} |"
            for p in work
        ]
        lines.append("")
    held = [p for p in plans if p.action in (Action.SKIP, Action.ELSEWHERE)]
    if held:
        lines += ["## Skipped and left to other runs", "", "| VM | resource group | state | rule | why |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        lines += [
            f"| {p.vm.name} | {p.vm.resource_group} | {p.state.value} | {p.rule or '-'} | {_cell(p.reason)} |"
            for p in held
        ]
        lines.append("")
    problems = list(report.rollout_notes)
    if problems:
        lines += ["## Refused and failed in the rollout", ""]
        lines += [f"- **{n.vm}** ({n.rule or n.reason}): {n.message}" for n in problems]
        lines.append("")
    retirement = retirement_summary(result)
    lines += [
        f"## Retirement readiness: ADE retires {retirement['ade_retirement']} ({retirement['days_left']} days left)",
        "",
        "After that date ADE-encrypted disks do not unlock on reboot.",
        "",
        "| path | VMs | what to do |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {path} | {entry['vms']} | {entry['what_to_do']} |" for path, entry in retirement["paths"].items()]
    lines += [
        "",
        "## Every VM",
        "",
        "| VM | resource group | ADE state | this run | drift would | rotate-kek would | KEK (age, days) "
        "| retirement |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in plans:
        kek = p.current_kek.rsplit("/keys/", 1)[-1] if p.current_kek else "-"
        age = f" ({p.kek_age_days:g})" if p.kek_age_days is not None else ""
        lines.append(
            f"| {p.vm.name} | {p.vm.resource_group} | {p.state.value} | {p.action.value} | {p.drift or '-'} "
            f"| {p.rotate or '-'} | {kek}{age} | {p.retirement.value} |"
        )
    return "\n".join(lines) + "\n"


def webhook_body(result: CampaignResult) -> dict[str, Any]:
    """What the webhook receives: the counts and where the report is, never per-VM detail or key material."""
    return {
        "campaign": result.name,
        "kind": result.kind.value,
        "run": result.run,
        "action_time": result.action_time,
        "vms": result.total,
        "actions": result.actions,
        "rollout": {"id": result.rollout_id, "stage": result.rollout_stage, "counts": result.rollout_counts},
        "retirement": {"days_left": _days_left(result), "paths": result.retirement},
        "reports": result.reports,
    }
