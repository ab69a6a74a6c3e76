"""What ``adeflow migrate plan`` writes and ``adeflow migrate readiness`` shows, rendered from pure data.

The plan is a migration manifest (the manifest format with a ``migrate`` section, docs/ade-migration.md) written
from a campaign report: the VMs grouped by path, M-3 (copy the disks) then M-4 (rebuild from an image), every
``migrate`` key written out with its default and a comment, so the operator reads what will happen. What only the
operator knows, the M-4 image and first login, is written as ``TODO``: the manifest loader refuses the file, naming
each one, until they are filled in.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Any

import yaml

from adeflow.domain import values
from adeflow.domain.campaign_plan.state import ADE_RETIREMENT, RetirementPath
from adeflow.domain.migration.audit import AuditReport, MigrationPlan, PlannedVm
from adeflow.domain.migration.payloads import CleanupPolicy, MigrationInput
from adeflow.domain.migration.readiness import MIGRATION_RULES, Readiness
from adeflow.domain.model import VmRef

_DEFAULTS = MigrationInput(vm=VmRef("", "", ""))
"""The input's defaults: written out explicitly, so the file says what will happen."""

PATH_WORDS = {
    RetirementPath.DISABLE_THEN_HOST: "copy-disks",
    RetirementPath.REBUILD: "rebuild",
}
"""How the readiness view names the two migration paths (the manifest's ``path`` values)."""


def _scalar(text: str) -> str:
    """``text`` as a YAML value: plain when YAML reads it back as the same string, else double-quoted."""
    if yaml.safe_load(f"k: {text}") == {"k": text}:
        return text
    return json.dumps(text)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _size(size: int) -> str:
    mib = size // (1024 * 1024)
    return f"{mib // 1024}GiB" if mib % 1024 == 0 else f"{mib}MiB"


def _commented(text: str, comment: str) -> str:
    return f"{text:<31} # {comment}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _rollout_name(campaign: str) -> str:
    try:
        return values.parse_rollout_name(f"migrate-{campaign}")
    except ValueError:
        return ""


def _vm_lines(planned: list[PlannedVm]) -> list[str]:
    lines: list[str] = []
    for vm in planned:
        if vm.note:
            lines.append(f"  # {vm.vm.name}: {vm.note}")
        lines += [f"  - id: {_scalar(vm.vm.resource_id)}", f"    migrate: {{path: {vm.path.value}}}"]
    return lines


def _vms(count: int) -> str:
    return f"{count} VM" if count == 1 else f"{count} VMs"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{path} {n}" for path, n in counts.items()) or "none"


def migration_manifest_yaml(report: AuditReport, plan: MigrationPlan, source: str) -> str:
    """The migration manifest for ``plan``; ``source`` names the report in its header."""
    todo = values.TODO
    cleanup = CleanupPolicy()
    copying, rebuilt = len(plan.copy_disks), len(plan.rebuild)
    lines = [
        "# Migration off ADE to encryption at host (docs/ade-migration.md), planned by adeflow migrate plan from",
        f"#   {source}: campaign {report.campaign or '-'} ({report.kind or '-'}), run {report.run or '-'}, "
        f"action time {report.action_time or '-'}",
        f"# ADE retires {ADE_RETIREMENT.isoformat()}: after that, ADE disks do not unlock when a VM restarts.",
        f"# {_vms(copying)} copy their disks (M-3), {_vms(rebuilt)} rebuilt from an image (M-4); the others need no "
        f"migration ({_counts(plan.nothing_to_do)}).",
        "# Before running it:",
    ]
    if plan.needs_image:
        lines.append(f"#   - replace every {todo} (the M-4 image and first login): adeflow refuses the file until then")
    lines += [
        "#   - choose the downtime (approval, or windows per VM) and the cleanup policy below",
        f"#   - see the pace: adeflow migrate readiness {_scalar(source)} --manifest <this file>",
        "version: 1",
    ]
    name = _rollout_name(report.campaign)
    if name:
        lines += ["rollout:", f"  name: {name}"]
    lines += [
        "migrate:",
        _commented("  nic: new", "a new NIC in the source's subnet (new private IP); reuse keeps the IP (M-7)"),
        _commented(
            "  downtime: approval", "or a window {start: 2026-11-07T22:00:00Z, end: 2026-11-08T04:00:00Z} (M-7)"
        ),
        _commented("  cleanup:", "only after the owner confirms the new VM and an approval is recorded (M-8)"),
        f"    delete_source_vm: {_flag(cleanup.delete_source_vm)}",
        f"    delete_source_disks: {_flag(cleanup.delete_source_disks)}",
        f"    delete_source_nics: {_flag(cleanup.delete_source_nics)}",
        _commented(
            f"    reset_vault_disk_encryption: {_flag(cleanup.reset_vault_disk_encryption)}",
            "only once no VM uses the vault for ADE",
        ),
        _commented(f"  target_suffix: {_scalar(_DEFAULTS.targets.disk_suffix)}", "<source name><suffix> (M-1)"),
        _commented(f"  sas_duration: {_duration(_DEFAULTS.sas_duration_s)}", "each disk SAS; renewed mid-copy"),
        _commented(f"  copy_parallelism: {_DEFAULTS.copy_parallelism}", "Put Page From URL calls in flight per disk"),
        _commented(
            f"  checkpoint_size: {_size(_DEFAULTS.checkpoint_bytes)}", "a resumed copy re-copies at most this much"
        ),
        _commented(
            f"  register_feature: {_flag(_DEFAULTS.register_feature)}",
            "true: register Microsoft.Compute/EncryptionAtHost and wait (M-5)",
        ),
        _commented(
            f"  reminder_interval: {_duration(_DEFAULTS.reminder_interval_s)}",
            "a run waiting for a person says so again",
        ),
    ]
    if plan.needs_image:
        lines += [
            _commented("  rebuild:", "M-4: the new VMs' image and first login (per VM: vms[*].migrate.rebuild)"),
            _commented(
                f"    image: {{publisher: {todo}, offer: {todo}, sku: {todo}, version: latest}}",
                "or {id: <image id>}",
            ),
            f"    admin_username: {todo}",
            _commented(f"    ssh_public_key: {todo}", "the line of ~/.ssh/id_ed25519.pub (ssh-ed25519 or ssh-rsa)"),
        ]
    lines += ["defaults:", _commented("  backup: auto", "R-BAK-2: a backup before the M-3 disable"), "vms:"]
    if plan.copy_disks:
        lines += [
            "  # M-3, data-only ADE: disable ADE on the data volumes, remove the extension, copy every disk into new",
            f"  # Upload disks, create the new VM with encryption at host from them ({_vms(copying)})",
            *_vm_lines(plan.copy_disks),
        ]
    if plan.rebuild:
        lines += [
            "  # M-4, OS volume encrypted: a new VM from the image above; its owner moves the data (adeflow cannot)",
            f"  # and confirms ({_vms(rebuilt)})",
            *_vm_lines(plan.rebuild),
        ]
    if plan.unreadable:
        lines += ["# Not read by the campaign (run it again, then plan these):"]
        lines += [f"#   {vm.resource_id}" for vm in plan.unreadable]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- readiness


def _path_name(value: str) -> str:
    path = RetirementPath(value)
    return PATH_WORDS.get(path, value)


def readiness_lines(readiness: Readiness) -> list[str]:
    """The summary above the tables."""
    r = readiness
    by_path = ", ".join(f"{MIGRATION_RULES[p]} {PATH_WORDS[p]} {r.per_path.get(p.value, 0)}" for p in MIGRATION_RULES)
    return [
        f"ADE retires {r.retirement.isoformat()}: {r.days_left} days ({r.months_left} months) left as of "
        f"{r.as_of.isoformat()}.",
        f"{r.to_migrate} VMs to migrate ({by_path}); {r.to_migrate - sum(r.unscheduled.values())} planned, "
        f"{sum(r.unscheduled.values())} not planned, {r.late} planned too late.",
        f"Pace: {_vms(r.pace_per_month)} per month to finish before ADE retires.",
    ]


def path_rows(readiness: Readiness) -> list[tuple[str, str, str, str, str]]:
    """PATH, RULE, VMS, PLANNED, NOT PLANNED per retirement path the fleet has."""
    rows = []
    for value, count in readiness.per_path.items():
        path = RetirementPath(value)
        if path in MIGRATION_RULES:
            unplanned = readiness.unscheduled.get(value, 0)
            planned = sum(month.counts.get(value, 0) for month in readiness.per_month)
            rows.append((_path_name(value), MIGRATION_RULES[path], str(count), str(planned), str(unplanned)))
        else:
            rows.append((_path_name(value), "-", str(count), "-", "-"))
    return rows


MONTH_HEADERS = ("MONTH", "MONTHS LEFT", *(f"{PATH_WORDS[p]} ({MIGRATION_RULES[p]})" for p in MIGRATION_RULES))


def month_rows(readiness: Readiness) -> list[tuple[str, ...]]:
    """One row per month with planned migrations: the months left until ADE retires, VMs per migration path."""
    return [
        (month.month, str(month.months_left), *(str(month.counts.get(p.value, 0)) for p in MIGRATION_RULES))
        for month in readiness.per_month
    ]


def readiness_json(readiness: Readiness, **about: Any) -> dict[str, Any]:
    """The readiness as JSON-ready data (dates in ISO 8601), with ``about`` (the report, the manifest) first."""

    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {**about, **plain(asdict(readiness))}
