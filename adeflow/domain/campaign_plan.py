"""Campaign planning as pure functions: from each VM's facts, what a campaign does to it and why.

A campaign runs on a Temporal Schedule (docs/original-design.md §1.4): it reads the fleet, decides per VM, hands the VMs
that need work to a fleet rollout and reports. Every decision is here, free of I/O, so it is unit-tested without
Temporal or Azure, and the workflow only carries it out. The decisions reuse :mod:`adeflow.domain.rules` (volume
types per R-NEW-2, eligibility per R-LIM-*/R-PRE-1) so that a campaign never sends a VM that the VM run would refuse.

- ``rotate-kek``: re-enable with the target KEK and a new sequence version (R-NEW-4) on ADE VMs whose KEK is
  another key, no KEK at all, or an older version of the target key than ``max_age_days`` allows.
- ``drift``: encrypt VMs that are not encrypted, re-enable partly encrypted ones (a data disk attached after
  encryption, R-NEW-1/2), and reinstall the extension on VMs whose extension was removed while the disks stayed
  encrypted (R-DIS-2).
- ``audit``: change nothing; say per VM what the other kinds would do and which path it has before ADE retires
  (2028-09-15; after it, ADE disks do not unlock on reboot).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from adeflow.domain import rules
from adeflow.domain.fleet import VmSettings
from adeflow.domain.model import KeyEncryptionKey, Refusal, VmFacts, VmRef, VolumeState, VolumeType
from adeflow.domain.rollout import RolloutInput, RolloutResult, VmNote
from adeflow.domain.vocabulary import NEW_DISK_CONFIRMATION

ADE_RETIREMENT = date(2028, 9, 15)
"""ADE's retirement: afterwards ADE-encrypted disks fail to unlock on the next reboot (docs/operator-pains.md §0.1)."""
MAX_NAME = 46
"""A campaign name plus ``-YYYYMMDDTHHMMSSZ`` stays within a rollout id's 63 characters."""
_BUSY = {VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.DECRYPTION_IN_PROGRESS, VolumeState.VM_RESTART_PENDING}
_ENABLE = ("EnableEncryption", "EnableEncryptionFormatAll")
_KEK_URL = re.compile(
    r"^https://(?P<host>[a-z0-9.-]+?)(?::443)?/keys/(?P<name>[a-z0-9-]+)(?:/(?P<version>[a-z0-9]*))?/?$",
    re.IGNORECASE,
)
_SCHEDULED_SUFFIX = re.compile(r"-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$")


class CampaignKind(StrEnum):
    ROTATE_KEK = "rotate-kek"
    DRIFT = "drift"
    AUDIT = "audit"


class AdeState(StrEnum):
    """A VM's ADE state as ARM shows it (extension settings and status, disk instance views)."""

    NOT_ENCRYPTED = "not-encrypted"
    ENCRYPTED = "encrypted"
    PARTLY_ENCRYPTED = "partly-encrypted"
    """ADE is enabled, but a disk its volume type covers (after R-NEW-2) is not encrypted, e.g. a new data disk."""
    EXTENSION_REMOVED = "extension-removed"
    """Disks carry ADE encryption, the extension that manages them is gone (R-DIS-2)."""
    IN_PROGRESS = "in-progress"
    LEGACY = "legacy-aad"
    HOST_ENCRYPTED = "host-encrypted"
    """Encryption at host or SSE with a customer-managed key, no ADE."""
    NOT_LINUX = "not-linux"
    UNREADABLE = "unreadable"


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


class RetirementPath(StrEnum):
    """What a VM needs before ADE retires (docs/operator-pains.md: there is no in-place conversion)."""

    NO_ADE = "no-ade"
    DISABLE_THEN_HOST = "disable-then-encryption-at-host"
    REBUILD = "rebuild"
    READY = "encryption-at-host"
    UNKNOWN = "unknown"


RETIREMENT_ADVICE = {
    RetirementPath.NO_ADE: "no ADE: nothing to migrate; prefer encryption at host over ADE for new encryption",
    RetirementPath.DISABLE_THEN_HOST: (
        "data-only ADE: disable it (R-DIS-4), remove the extension (R-DIS-2), then move to encryption at host "
        "on copied disks (an ever-ADE disk cannot switch in place, R-LIM-4u)"
    ),
    RetirementPath.REBUILD: (
        "OS volume ADE-encrypted: it cannot be decrypted (R-DIS-3); rebuild the VM on new disks with encryption at host"
    ),
    RetirementPath.READY: "already encrypted at host or with SSE + CMK",
    RetirementPath.UNKNOWN: "the VM could not be read",
}


# ---------------------------------------------------------------------------------------------------- payloads


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


# ---------------------------------------------------------------------------------------------------- naming


def campaign_run_name(name: str, at: datetime) -> str:
    """``<name>-YYYYMMDDTHHMMSSZ``: one per schedule action, so a rollout id never repeats across runs."""
    return f"{name}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def scheduled_time(workflow_id: str) -> datetime | None:
    """The action time a schedule appends to its workflow ids (``campaign/x-2026-11-28T19:26:37Z``)."""
    match = _SCHEDULED_SUFFIX.search(workflow_id)
    if match is None:
        return None
    return datetime.fromisoformat(match[1].replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------------- KEKs


def parse_kek(url: str) -> tuple[str, str, str] | None:
    """(vault host, key name, version or "") of a key URL, lower-cased; None if it is not a key URL."""
    match = _KEK_URL.match(url.strip())
    if match is None:
        return None
    return match["host"].lower(), match["name"].lower(), (match["version"] or "").lower()


def normalise_kek(url: str) -> str:
    """Key URLs compare without case, port 443 or a trailing slash (Key Vault answers with ``:443``)."""
    parts = parse_kek(url)
    if parts is None:
        return url.strip().rstrip("/").lower()
    host, name, version = parts
    return f"https://{host}/keys/{name}" + (f"/{version}" if version else "")


def keks_in_use(readings: list[VmReading]) -> list[KeyEncryptionKey]:
    """Distinct versioned KEKs in the fleet's extension settings, each once (for one Key Vault read apiece)."""
    seen: dict[str, KeyEncryptionKey] = {}
    for reading in readings:
        ext = reading.facts.ade_extension if reading.facts else None
        if ext is None or not ext.key_encryption_key_url:
            continue
        key = normalise_kek(ext.key_encryption_key_url)
        vault = ext.kek_vault_resource_id or ext.key_vault_resource_id
        if key not in seen and vault:
            seen[key] = KeyEncryptionKey(key, vault)
    return list(seen.values())


def _days(later: datetime, earlier: datetime | None) -> float | None:
    if earlier is None:
        return None
    return round((later - earlier).total_seconds() / 86400.0, 1)


# ---------------------------------------------------------------------------------------------------- state


def _busy(facts: VmFacts) -> bool:
    status = facts.ade_extension.status if facts.ade_extension else None
    return status is not None and (status.os in _BUSY or status.data in _BUSY)


def ade_state(facts: VmFacts) -> AdeState:
    """Classify a VM from its facts; the order matters (a legacy or busy VM is that before anything else)."""
    if facts.os_type.lower() != "linux":
        return AdeState.NOT_LINUX
    if rules.is_legacy_ade(facts):
        return AdeState.LEGACY
    if _busy(facts):
        return AdeState.IN_PROGRESS
    ext = facts.ade_extension
    encrypted = [d for d in facts.disks if d.instance_view_encrypted]
    if ext is None or ext.encryption_operation not in _ENABLE:
        if encrypted:
            return AdeState.EXTENSION_REMOVED
        if facts.encryption_at_host or any(d.disk_encryption_set_id for d in facts.disks):
            return AdeState.HOST_ENCRYPTED
        return AdeState.NOT_ENCRYPTED
    target = rules.decide_volume_type(None, facts).volume_type or VolumeType.ALL
    scope = rules.disks_in_scope(facts, target)
    return AdeState.ENCRYPTED if all(d.instance_view_encrypted for d in scope) else AdeState.PARTLY_ENCRYPTED


def retirement_path(facts: VmFacts | None, state: AdeState) -> RetirementPath:
    """Data-only ADE can be disabled first; an encrypted OS volume cannot (R-DIS-3), so that VM is rebuilt."""
    if facts is None or state is AdeState.UNREADABLE:
        return RetirementPath.UNKNOWN
    if state is AdeState.HOST_ENCRYPTED:
        return RetirementPath.READY
    if state in (AdeState.NOT_ENCRYPTED, AdeState.NOT_LINUX):
        return RetirementPath.NO_ADE
    ext = facts.ade_extension
    covers_os = ext is not None and ext.volume_type.lower() in ("os", "all")  # in progress, or the AAD release
    if rules.os_volume_encrypted(facts) or covers_os or facts.legacy_os_encryption_settings:
        return RetirementPath.REBUILD
    return RetirementPath.DISABLE_THEN_HOST


def _unencrypted(facts: VmFacts, volume_type: VolumeType) -> list[str]:
    return [d.name for d in rules.disks_in_scope(facts, volume_type) if not d.instance_view_encrypted]


# ---------------------------------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class _Decision:
    action: Action
    reason: str
    rule: str = ""
    volume_type: VolumeType | None = None
    key_vault_id: str = ""

    def describe(self) -> str:
        """One short phrase for the audit columns, e.g. ``re-enable (All)`` or ``skip (R-LIM-1)``."""
        if self.action in WORK and self.volume_type is not None:
            return f"{self.action.value} ({self.volume_type.value})"
        if self.action is Action.SKIP and self.rule:
            return f"skip ({self.rule})"
        return self.action.value


def _skip(refusal: Refusal) -> _Decision:
    return _Decision(Action.SKIP, f"{refusal.message} Fix: {refusal.fix}", refusal.rule)


def _common_skip(state: AdeState) -> _Decision | None:
    """States in which no campaign acts, whatever its kind (an unreadable VM never gets this far)."""
    if state is AdeState.NOT_LINUX:
        return _Decision(Action.SKIP, "not a Linux VM: adeflow encrypts Linux VMs only.", "R-PRE-1")
    if state is AdeState.LEGACY:
        return _Decision(
            Action.SKIP,
            "encrypted with the previous ADE release (AAD app): keep managing it with that release.",
            "R-LIM-1",
        )
    if state is AdeState.IN_PROGRESS:
        return _Decision(
            Action.SKIP,
            "an ADE operation is running on the VM; the next campaign run looks at it again.",
            "R-LIM-2",
        )
    return None


def _ineligible(facts: VmFacts, volume_type: VolumeType | None) -> _Decision | None:
    """The VM run's own preflight, as far as facts alone decide it: a campaign never sends what would be refused."""
    refusals = rules.check_vm_eligibility(facts, volume_type)
    refusals += rules.check_support_matrix(facts, volume_type, allow_unlisted=False)
    return _skip(refusals[0]) if refusals else None


def _unconfirmed(settings: VmSettings, what: str) -> _Decision | None:
    """R-NEW-1: any re-enable can pick up a new data disk, so it needs the operator's standing confirmation."""
    if NEW_DISK_CONFIRMATION in settings.confirmations:
        return None
    return _Decision(
        Action.SKIP,
        f"{what} needs the operator's word that every data disk is formatted, mounted and in /etc/fstab. "
        f"Fix: add {NEW_DISK_CONFIRMATION} to the campaign's defaults.confirmations once that holds.",
        "R-NEW-1",
    )


def drift_decision(facts: VmFacts, state: AdeState, settings: VmSettings) -> _Decision:
    """What a drift campaign does to one VM (see the module docstring)."""
    if state is AdeState.ENCRYPTED:
        return _Decision(Action.NONE, "every disk its ADE volume type covers is encrypted.")
    if state is AdeState.HOST_ENCRYPTED:
        return _Decision(
            Action.NONE, "encrypted at host or with SSE + CMK; ADE cannot be combined with it.", "R-LIM-4t"
        )
    if state is AdeState.NOT_ENCRYPTED:
        decision = rules.decide_volume_type(settings.volume_type, facts)
        if decision.refusal is not None:
            return _skip(decision.refusal)
        volume_type = decision.volume_type
        return _ineligible(facts, volume_type) or _Decision(
            Action.ENCRYPT,
            f"not ADE-encrypted: encrypt with volume type {volume_type.value if volume_type else '-'}.",
            "R-ENA-1",
            volume_type,
            settings.key_vault_id,
        )
    if state is AdeState.PARTLY_ENCRYPTED:
        decision = rules.decide_volume_type(None, facts)
        target = decision.volume_type or VolumeType.ALL
        previous = rules.current_volume_type(facts)
        missing = ", ".join(_unencrypted(facts, target))
        was = previous.value if previous else "?"
        change = f"re-enable as {target.value}" + (f" (was {was}, R-NEW-2)" if previous is not target else "")
        ext = facts.ade_extension
        vault = (ext.key_vault_resource_id if ext else "") or settings.key_vault_id
        return (
            _unconfirmed(settings, "re-enabling ADE for disks added after encryption")
            or _ineligible(facts, target)
            or _Decision(
                Action.REENABLE,
                f"ADE volume type {was} leaves {missing} unencrypted (a disk attached after encryption, R-NEW-1): "
                f"{change} with a new sequence version (R-NEW-4).",
                "R-NEW-2",
                target,
                vault,
            )
        )
    if state is AdeState.EXTENSION_REMOVED:
        if facts.os_disk.instance_view_encrypted:
            target = VolumeType.ALL if facts.data_disks else VolumeType.OS
        else:
            target = VolumeType.DATA
        encrypted = ", ".join(d.name for d in facts.disks if d.instance_view_encrypted)
        new_disks = [d for d in _unencrypted(facts, target) if d != facts.os_disk.name]
        guard = _unconfirmed(settings, f"enabling {target.value} over {', '.join(new_disks)}") if new_disks else None
        return (
            guard
            or _ineligible(facts, target)
            or _Decision(
                Action.REINSTALL,
                f"the ADE extension was removed while {encrypted} stayed encrypted (R-DIS-2): enable again with "
                f"volume type {target.value} so that ADE manages the disks again.",
                "R-DIS-2",
                target,
                settings.key_vault_id,
            )
        )
    skip = _common_skip(state)
    assert skip is not None
    return skip


def rotate_decision(
    facts: VmFacts,
    state: AdeState,
    settings: VmSettings,
    rotate: RotateKek,
    target: KekVersion | None,
    keks: dict[str, KekVersion],
    now: datetime,
) -> tuple[_Decision, str, float | None]:
    """What a rotate-kek campaign does to one VM, with the VM's current KEK and its age in days."""
    ext = facts.ade_extension
    current = normalise_kek(ext.key_encryption_key_url) if ext and ext.key_encryption_key_url else ""
    age = _days(now, keks[current].created) if current in keks else None
    if state in (AdeState.NOT_ENCRYPTED, AdeState.HOST_ENCRYPTED):
        return _Decision(Action.NONE, "not ADE-encrypted: no KEK to rotate (a drift campaign encrypts it)."), "", None
    if state is AdeState.EXTENSION_REMOVED:
        why = "the ADE extension was removed (R-DIS-2): run a drift campaign first; it adds the extension back."
        return _Decision(Action.SKIP, why, "R-DIS-2"), current, age
    skip = _common_skip(state)
    if skip is not None:
        return skip, current, age
    if target is None or target.problem or not target.enabled:
        problem = (target.problem if target else "") or "the version is disabled"
        why = f"the target KEK {rotate.key_url} cannot be used: {problem}. Fix the campaign's rotate_kek."
        return _Decision(Action.SKIP, why, "R-ENA-3"), current, age
    wanted = parse_kek(target.url)
    have = parse_kek(current) if current else None
    max_age = rotate.max_age_days
    if have is None:
        why = f"no KEK: the disk-encryption secrets are not wrapped; wrap them with {target.url}."
    elif wanted is not None and have[:2] != wanted[:2]:
        why = f"uses another key ({current}); move to {target.url}."
    elif wanted is not None and have[2] == wanted[2]:
        note = ""
        target_age = _days(now, target.created)
        if max_age is not None and target_age is not None and target_age > max_age:
            note = f" The target version itself is {target_age:g} days old: create a new version of the key."
        return _Decision(Action.NONE, f"already on the target KEK.{note}"), current, age
    else:
        known = keks.get(current)
        if known is None or known.problem or known.created is None:
            problem = known.problem if known else "not read"
            why = f"the current KEK version cannot be read ({problem}); move to {target.url}."
        elif target.created is not None and known.created > target.created:
            why_none = f"the current version ({age:g} days old) is newer than the target; left as it is."
            return _Decision(Action.NONE, why_none), current, age
        elif max_age is not None and age is not None and age <= max_age:
            why_none = f"the current version is {age:g} days old, within max_age_days {max_age:g}."
            return _Decision(Action.NONE, why_none), current, age
        else:
            limit = f" (max_age_days {max_age:g})" if max_age is not None else ""
            why = f"the current version is {age:g} days old{limit}; move to {target.url}."
    reenable = rules.decide_volume_type(None, facts).volume_type or VolumeType.ALL
    missing = _unencrypted(facts, reenable)
    if missing:
        why += f" The re-enable also encrypts {', '.join(missing)} (R-NEW-2)."
    vault = (ext.key_vault_resource_id if ext else "") or settings.key_vault_id
    decision = (
        _unconfirmed(settings, "re-enabling ADE with a new KEK")
        or _ineligible(facts, reenable)
        or _Decision(
            Action.ROTATE_KEK,
            why + " A new sequence version makes ADE re-wrap the keys (R-NEW-4).",
            "R-NEW-4",
            reenable,
            vault,
        )
    )
    return decision, current, age


def plan_vm(
    kind: CampaignKind,
    reading: VmReading,
    settings: VmSettings,
    settings_index: int,
    *,
    rotate: RotateKek | None,
    target: KekVersion | None,
    keks: dict[str, KekVersion],
    now: datetime,
) -> VmPlan:
    """One VM's plan for a campaign of ``kind``; the other kinds' answers are kept for the audit columns."""
    facts = reading.facts
    if facts is None:
        why = f"the VM could not be read: {reading.problem or 'no facts'}"
        return VmPlan(reading.vm, AdeState.UNREADABLE, Action.SKIP, why, settings_index=settings_index)
    state = ade_state(facts)
    drift = drift_decision(facts, state, settings)
    rotation: _Decision | None = None
    current, age = "", None
    if rotate is not None:
        rotation, current, age = rotate_decision(facts, state, settings, rotate, target, keks, now)
    elif facts.ade_extension is not None and facts.ade_extension.key_encryption_key_url:
        current = normalise_kek(facts.ade_extension.key_encryption_key_url)
        age = _days(now, keks[current].created) if current in keks else None
    chosen: _Decision
    if kind is CampaignKind.DRIFT:
        chosen = drift
    elif kind is CampaignKind.ROTATE_KEK:
        assert rotation is not None, "a rotate-kek campaign has a target KEK"
        chosen = rotation
    else:
        chosen = _Decision(Action.NONE, "audit: nothing is changed.")
    return VmPlan(
        vm=reading.vm,
        state=state,
        action=chosen.action,
        reason=chosen.reason,
        rule=chosen.rule,
        volume_type=chosen.volume_type.value if chosen.action in WORK and chosen.volume_type else "",
        key_vault_id=chosen.key_vault_id if chosen.action in WORK else "",
        current_kek=current,
        target_kek=target.url if target is not None and rotate is not None else "",
        kek_age_days=age,
        drift=drift.describe(),
        rotate=rotation.describe() if rotation is not None else "",
        retirement=retirement_path(facts, state),
        settings_index=settings_index,
    )


def plan_campaign(
    request: CampaignInput,
    readings: list[tuple[VmReading, int]],
    keks: KekReport,
    now: datetime,
) -> list[VmPlan]:
    """Every VM's plan, in fleet order; ``readings`` pairs each VM's facts with its settings index."""
    by_url = {k.url: k for k in keks.versions}
    return [
        plan_vm(
            request.kind,
            reading,
            request.fleet.settings[index],
            index,
            rotate=request.rotate,
            target=keks.target,
            keks=by_url,
            now=now,
        )
        for reading, index in readings
    ]


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


def days_to_retirement(now: datetime) -> int:
    return (ADE_RETIREMENT - now.astimezone(UTC).date()).days
