"""What each campaign kind does to one VM, and why (see :mod:`adeflow.domain.campaign_plan`).

The decisions reuse :mod:`adeflow.domain.rules` (volume types per R-NEW-2, eligibility per R-LIM-*/R-PRE-1), so a
campaign never sends a VM that the VM run would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adeflow.domain import rules
from adeflow.domain.campaign_plan.keks import age_days, normalise_kek, parse_kek
from adeflow.domain.campaign_plan.payloads import (
    WORK,
    Action,
    CampaignInput,
    CampaignKind,
    KekReport,
    KekVersion,
    RotateKek,
    VmPlan,
    VmReading,
)
from adeflow.domain.campaign_plan.state import AdeState, ade_state, retirement_path
from adeflow.domain.fleet import VmSettings
from adeflow.domain.model import Refusal, VmFacts, VolumeType
from adeflow.domain.vocabulary import NEW_DISK_CONFIRMATION


def _unencrypted(facts: VmFacts, volume_type: VolumeType) -> list[str]:
    return [d.name for d in rules.disks_in_scope(facts, volume_type) if not d.instance_view_encrypted]


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
    # Every other state is one _common_skip names; a state added later without a decision changes nothing.
    return _common_skip(state) or _Decision(Action.SKIP, f"no drift decision for ADE state {state.value}: unchanged.")


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
    age = age_days(now, keks[current].created) if current in keks else None
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
        target_age = age_days(now, target.created)
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
        age = age_days(now, keks[current].created) if current in keks else None
    chosen: _Decision
    if kind is CampaignKind.DRIFT:
        chosen = drift
    elif kind is CampaignKind.ROTATE_KEK:
        # The campaign file's validation requires the target KEK; without one nothing is rotated.
        chosen = rotation or _Decision(Action.SKIP, "a rotate-kek campaign without a target KEK rotates nothing.")
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
