"""What crosses the campaign workflow's boundaries: its input and result, activity requests and answers, VM plans.

Dataclasses only (Temporal serialises them); the vocabulary of a plan (kind, action) lives here with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from adeflow.domain.campaign_plan.state import AdeState, RetirementPath
from adeflow.domain.model import KeyEncryptionKey, VmFacts, VmRef
from adeflow.domain.rollout import RolloutInput, VmNote


class CampaignKind(StrEnum):
    ROTATE_KEK = "rotate-kek"
    DRIFT = "drift"
    AUDIT = "audit"


class Action(StrEnum):
    ROTATE_KEK = "rotate-kek"
    ENCRYPT = "encrypt"
    REENABLE = "re-enable"
    REINSTALL = "reinstall-extension"
    NONE = "none"
    SKIP = "skip"
    """Needs work the campaign cannot do now (busy, ineligible, unconfirmed); the reason says what to do."""
    ELSEWHERE = "elsewhere"
    """Needs work, but another run (a rollout or a single-VM run) is encrypting the VM: left to it."""


WORK = frozenset({Action.ROTATE_KEK, Action.ENCRYPT, Action.REENABLE, Action.REINSTALL})


@dataclass(frozen=True)
class RotateKek:
    """The rotate-kek target: a versioned key URL, or an unversioned one meaning the key's current version."""

    key_url: str
    vault_id: str
    max_age_days: float | None = None
    """Rotate a VM on an older version of the target key only once that version is older than this."""


@dataclass(frozen=True)
class CampaignInput:
    """What a schedule starts a campaign run with: everything from the campaign file, resolved client-side."""

    name: str
    kind: CampaignKind
    fleet: RolloutInput
    """The VMs and selectors with their settings, compacted as a rollout takes them (its rollout id is unused)."""
    rotate: RotateKek | None = None
    report_dir: str = ""
    webhook_url: str = ""
    source: str = ""
    """The campaign file, for reports."""
    facts_batch: int = 50
    """VMs per facts-reading activity: small payloads, and a retry re-reads only its batch."""
    facts_parallel: int = 8
    """Concurrent ARM reads inside one facts-reading activity."""


@dataclass(frozen=True)
class FactsBatch:
    vms: list[VmRef]
    parallel: int = 8


@dataclass(frozen=True)
class VmReading:
    """One VM's facts, or why they could not be read (the VM was deleted since it was found, access denied)."""

    vm: VmRef
    facts: VmFacts | None = None
    problem: str = ""


@dataclass(frozen=True)
class KekVersion:
    """A KEK version as Key Vault's management plane reports it (never key material)."""

    url: str
    """Versioned and normalised (see :func:`normalise_kek`)."""
    vault_id: str = ""
    created: datetime | None = None
    enabled: bool = True
    problem: str = ""


@dataclass(frozen=True)
class KekQuery:
    """KEK versions in use on the fleet, and the campaign's target (resolved to its current version if needed)."""

    in_use: list[KeyEncryptionKey]
    target: KeyEncryptionKey | None = None


@dataclass(frozen=True)
class KekReport:
    versions: list[KekVersion]
    target: KekVersion | None = None


@dataclass(frozen=True)
class VmPlan:
    """What the campaign does to one VM, and everything an operator needs to check that it is right."""

    vm: VmRef
    state: AdeState
    action: Action
    reason: str
    rule: str = ""
    volume_type: str = ""
    """The volume type the rollout requests (R-NEW-2 target for a re-enable); empty when nothing is sent."""
    key_vault_id: str = ""
    current_kek: str = ""
    target_kek: str = ""
    kek_age_days: float | None = None
    drift: str = ""
    """What a drift campaign would do (for audits)."""
    rotate: str = ""
    """What a rotate-kek campaign would do, when a target KEK is known (for audits)."""
    retirement: RetirementPath = RetirementPath.UNKNOWN
    settings_index: int = 0


@dataclass(frozen=True)
class VmRunQuery:
    """VMs about to be sent to a rollout, with the workflow id their encryption run would have."""

    vms: list[VmRef]
    workflow_ids: list[str]


@dataclass(frozen=True)
class RunningVmRun:
    """A VM's encryption run found running elsewhere: its workflow id and rollout (empty for a single-VM run)."""

    vm: VmRef
    workflow_id: str
    rollout_id: str = ""


@dataclass(frozen=True)
class CampaignResult:
    name: str
    kind: CampaignKind
    run: str
    """``<name>-<action time>``: the report files' stem and the rollout id."""
    action_time: str
    total: int
    actions: dict[str, int]
    states: dict[str, int]
    retirement: dict[str, int]
    rollout_id: str = ""
    rollout_stage: str = ""
    rollout_counts: dict[str, int] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    webhook: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignReport:
    """Everything the report files say; built in the workflow, written by an activity."""

    result: CampaignResult
    plans: list[VmPlan]
    selected: list[str] = field(default_factory=list)
    target_kek: str = ""
    rollout_notes: list[VmNote] = field(default_factory=list)
    report_dir: str = ""
    source: str = ""


@dataclass(frozen=True)
class WrittenReport:
    paths: list[str]


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    result: CampaignResult


@dataclass(frozen=True)
class CampaignProgress:
    stage: str
    detail: str
    total: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    rollout_id: str = ""
