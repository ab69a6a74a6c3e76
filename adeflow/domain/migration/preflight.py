"""The migration preflight: every refusal visible before anything is written (M-1 .. M-7), gathered at once.

Read activities fetch :class:`MigrationFacts`; :func:`preflight` decides the path (M-3/M-4), whether the subscription
feature is ready (M-5), the size (M-6), the target names (M-1/M-2), the vault, and checks the input itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from adeflow.domain import rules
from adeflow.domain.migration.copy import MAX_PUT_PAGE_BYTES, PAGE
from adeflow.domain.migration.paths import PathDecision, decide_path
from adeflow.domain.migration.payloads import (
    FeatureState,
    MigrationFacts,
    MigrationInput,
    MigrationPath,
    NicPolicy,
    RebuildSpec,
)
from adeflow.domain.migration.safety import check_existing_target
from adeflow.domain.model import Refusal
from adeflow.domain.vocabulary import Reason

_VM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""Linux VM names: up to 64 characters; ARM names must not end with '.'."""
_DISK_NAME_MAX = 80
_SSH_KEY = re.compile(r"^(ssh-(rsa|ed25519)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+")
_DOMAIN_JOIN = ("aadsshlogin", "domainjoin", "jsonaddomain", "addomain")

FEATURE_REGISTER_COMMAND = "az feature register --namespace Microsoft.Compute --name EncryptionAtHost"


class FeatureAction(StrEnum):
    """What the run does about ``Microsoft.Compute/EncryptionAtHost`` (M-5)."""

    READY = "ready"
    REGISTER = "register"
    """POST ``.../features/EncryptionAtHost/register`` and wait for ``Registered`` (``--register-feature``)."""
    WAIT = "wait"
    """Someone registered it already: only wait."""
    REFUSE = "refuse"


def feature_action(state: FeatureState, register: bool) -> FeatureAction:
    if state is FeatureState.REGISTERED:
        return FeatureAction.READY
    if state is FeatureState.REGISTERING:
        return FeatureAction.WAIT
    return FeatureAction.REGISTER if register else FeatureAction.REFUSE


def check_feature(state: FeatureState, register: bool) -> list[Refusal]:
    """M-5: without the feature, ARM refuses every VM PUT with ``securityProfile.encryptionAtHost`` true."""
    if feature_action(state, register) is not FeatureAction.REFUSE:
        return []
    return [
        Refusal(
            "M-5",
            Reason.FEATURE_NOT_REGISTERED,
            f"the subscription feature Microsoft.Compute/EncryptionAtHost is {state.value}; ARM refuses a VM with "
            "encryption at host without it.",
            f"Run again with --register-feature (adeflow registers it and waits), or {FEATURE_REGISTER_COMMAND}.",
        )
    ]


def check_size(facts: MigrationFacts) -> list[Refusal]:
    """M-6: the size needs ``EncryptionAtHostSupported = True`` in Resource SKUs; resizing is the operator's call."""
    size, region = facts.source.size, facts.source.location
    query = (
        f"az vm list-skus --location {region} --resource-type virtualMachines "
        "--query \"[?capabilities[?name=='EncryptionAtHostSupported' && value=='True']].name\""
    )
    if facts.size_supports_host_encryption is True:
        return []
    if facts.size_supports_host_encryption is None:
        return [
            Refusal(
                "M-6",
                Reason.SIZE_UNKNOWN,
                f"size {size} is not listed in Resource SKUs for {region}; its encryption-at-host support is unknown.",
                f"Check the size is offered in {region}; sizes with encryption at host: {query}",
            )
        ]
    return [
        Refusal(
            "M-6",
            Reason.SIZE_WITHOUT_HOST_ENCRYPTION,
            f"size {size} does not support encryption at host (EncryptionAtHostSupported is not True).",
            f"Resize the VM to a size that supports it (an operator decision), then run again; sizes: {query}",
        )
    ]


def _invalid(rule: str, message: str, fix: str) -> Refusal:
    return Refusal(rule, Reason.MIGRATION_INPUT_INVALID, message, fix)


def _check_rebuild(spec: RebuildSpec) -> list[Refusal]:
    refusals: list[Refusal] = []
    image = spec.image
    if not image.custom_image_id and not (image.publisher and image.offer and image.sku):
        refusals.append(
            _invalid("M-4", "the rebuild image names neither an image id nor publisher, offer and sku.", "Name one.")
        )
    if not spec.admin_username.strip():
        refusals.append(_invalid("M-4", "the rebuild has no admin user name.", "Give admin_username."))
    if not _SSH_KEY.match(spec.ssh_public_key.strip()):
        refusals.append(
            _invalid(
                "M-4", "the rebuild's SSH public key is not an OpenSSH public key.", "Give ssh-ed25519/ssh-rsa ..."
            )
        )
    return refusals


def check_input(request: MigrationInput) -> list[Refusal]:
    """The request alone: names, the window, the copy's knobs and the rebuild spec."""
    refusals: list[Refusal] = []
    vm_name = request.targets.vm(request.vm)
    if not _VM_NAME.match(vm_name) or vm_name.endswith("."):
        refusals.append(
            _invalid(
                "M-1",
                f"new VM name {vm_name!r} is not a valid Linux VM name.",
                "Use up to 64 letters, digits, '.', '_', '-'.",
            )
        )
    if vm_name.lower() == request.vm.name.lower():
        refusals.append(
            Refusal(
                "M-1",
                Reason.TARGET_IS_SOURCE,
                f"the new VM would be named like the source ({vm_name}); there is no in-place conversion and the "
                "source stays until its cleanup is approved.",
                "Give the new VM another name (targets.vm_name).",
            )
        )
    if not request.targets.disk_suffix:
        refusals.append(
            Refusal(
                "M-1",
                Reason.TARGET_IS_SOURCE,
                "the disk name suffix is empty: the new disks would be named like the source's.",
                "Give a disk name suffix (default -eah).",
            )
        )
    window = request.downtime_window
    if window is not None and window.start is not None and window.end is not None and window.end <= window.start:
        refusals.append(_invalid("M-7", "the downtime window ends before it starts.", "Give an end after the start."))
    if request.sas_duration_s < 300:
        refusals.append(_invalid("M-3", "the SAS duration is under 5 minutes.", "Give at least 300 s (default 4 h)."))
    if not 1 <= request.copy_parallelism <= 64:
        refusals.append(_invalid("M-3", "copy parallelism must be between 1 and 64.", "Default: 8."))
    if request.checkpoint_bytes < MAX_PUT_PAGE_BYTES or request.checkpoint_bytes % PAGE:
        refusals.append(
            _invalid("M-3", "the checkpoint size must be at least 4 MiB, in 512-byte pages.", "Default: 256 MiB.")
        )
    if request.reminder_interval_s <= 0 or request.poll_interval_s <= 0 or request.deadline_s <= 0:
        refusals.append(_invalid("M-3", "intervals and deadlines must be positive.", "Give durations above 0."))
    if request.rebuild is not None:
        refusals += _check_rebuild(request.rebuild)
    return refusals


def planned_names(request: MigrationInput, facts: MigrationFacts) -> list[tuple[str, str]]:
    """(kind, name) of every resource the migration will create."""
    names = [("vm", request.targets.vm(request.vm))]
    names += [("disk", request.targets.disk(d.name)) for d in facts.source.disks]
    if request.nic_policy is NicPolicy.NEW:
        names += [("nic", request.targets.nic(request.vm, i)) for i in range(len(facts.source.nics))]
    return names


def check_targets(request: MigrationInput, facts: MigrationFacts) -> list[Refusal]:
    """M-1: the new resources' names are free (or taken by this migration's own earlier attempt, which is adopted);
    M-2: an adopted disk must be an Upload disk without the ADE marker."""
    refusals: list[Refusal] = []
    source_id = facts.source.resource_id.lower()
    source_disks = {d.name.lower() for d in facts.source.disks}
    existing = {(t.kind, t.name.lower()): t for t in facts.existing_targets}
    for kind, name in planned_names(request, facts):
        if kind == "disk" and (name.lower() in source_disks or len(name) > _DISK_NAME_MAX):
            refusals.append(
                Refusal(
                    "M-1",
                    Reason.TARGET_IS_SOURCE if name.lower() in source_disks else Reason.MIGRATION_INPUT_INVALID,
                    f"new disk name {name} is a source disk's name or longer than {_DISK_NAME_MAX} characters.",
                    "Choose another disk name suffix.",
                )
            )
        found = existing.get((kind, name.lower()))
        if found is not None:
            refusals += check_existing_target(found, source_id)
    return refusals


def check_disks_copyable(facts: MigrationFacts) -> list[Refusal]:
    """M-3: each disk is a managed disk whose SAS can be read (no ephemeral or unmanaged OS disk)."""
    bad = [d.name for d in facts.source.disks if not d.disk_id]
    if facts.vm.os_disk.ephemeral:
        bad.append(f"{facts.vm.os_disk.name} (ephemeral)")
    if not bad:
        return []
    return [
        Refusal(
            "M-3",
            Reason.UNMANAGED_DISK,
            f"disk(s) {', '.join(bad)} cannot be exported for a copy (not a managed disk).",
            "Rebuild this VM instead (path_policy rebuild, M-4).",
        )
    ]


def check_vault_reachable(facts: MigrationFacts) -> list[Refusal]:
    """R-PRE-2: the ADE vault must answer: the M-3 disable and a rollback's restart of the source both need it."""
    if not facts.vault_id:
        return []
    lookup = facts.vault
    if lookup is not None and lookup.vault is not None:
        return []
    problem = lookup.problem if lookup is not None else "not read"
    return [rules.key_vault_not_found(facts.vault_id, problem, denied=lookup.denied if lookup else False)]


def check_nic_policy(request: MigrationInput, path: MigrationPath) -> list[Refusal]:
    """M-7/M-4: reusing the NIC deletes the source VM object before the new VM exists; on the rebuild path the owner
    still needs the source to move the data from, so the NIC is reused only on the copy path."""
    if path is not MigrationPath.REBUILD or request.nic_policy is not NicPolicy.REUSE:
        return []
    return [
        _invalid(
            "M-7",
            "NIC reuse on the rebuild path would delete the source VM before its owner moved the data (M-4).",
            "Use nic_policy new for this VM; move the private IP by hand after the cleanup if it must stay.",
        )
    ]


@dataclass(frozen=True)
class MigrationPreflight:
    decision: PathDecision
    feature: FeatureAction
    refusals: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> MigrationPath:
        return MigrationPath.NONE if self.refusals else self.decision.path


def _notes(request: MigrationInput, facts: MigrationFacts, decision: PathDecision) -> list[str]:
    notes = list(decision.notes)
    types = [e.lower() for e in facts.source.extensions]
    if any(marker in t for t in types for marker in _DOMAIN_JOIN):
        notes.append("the VM looks domain-joined: leaving and rejoining the domain is the owner's step (M-7).")
    others = [e for e in facts.source.extensions if "diskencryption" not in e.lower()]
    if others:
        notes.append(
            f"the new VM gets none of the source's extensions ({', '.join(others)}); reinstall what is needed."
        )
    if request.nic_policy is NicPolicy.NEW:
        notes.append("NIC policy new: the new VM gets new private IP addresses in the source's subnets.")
    elif request.downtime_window is not None:
        notes.append("NIC policy reuse: the downtime needs an explicit approval even inside the window (M-7).")
    return notes


def preflight(request: MigrationInput, facts: MigrationFacts) -> MigrationPreflight:
    """Every refusal at once (empty: the migration may start), the path, the feature action and notes."""
    decision = decide_path(request, facts)
    refusals = check_input(request)
    if decision.refusal is not None:
        refusals.append(decision.refusal)
    refusals += check_feature(facts.feature, request.register_feature)
    refusals += check_size(facts)
    refusals += check_targets(request, facts)
    refusals += check_nic_policy(request, decision.path)
    if decision.path is MigrationPath.COPY_DISKS:
        refusals += check_disks_copyable(facts)
    refusals += check_vault_reachable(facts)
    return MigrationPreflight(
        decision, feature_action(facts.feature, request.register_feature), refusals, _notes(request, facts, decision)
    )
