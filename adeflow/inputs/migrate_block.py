"""A migration manifest's ``migrate`` settings: the fleet's (top level) and a VM's or a selector's own.

```yaml
migrate:
  path: auto                 # auto | copy-disks (M-3) | rebuild (M-4)
  nic: new                   # new | reuse (keeps the private IP; deletes the source VM object first, M-7)
  downtime: approval         # or {start: 2026-11-07T22:00:00Z, end: 2026-11-08T04:00:00Z} (M-7)
  cleanup:                   # what an approved cleanup deletes (M-8); nothing without the approval
    delete_source_vm: true
    delete_source_disks: true
    delete_source_nics: true
    reset_vault_disk_encryption: false
  target_suffix: -eah        # new VM, disks, NICs: <source name><suffix> (M-1)
  sas_duration: 4h           # each disk SAS; renewed mid-copy when it expires
  copy_parallelism: 8        # Put Page From URL calls in flight per disk
  checkpoint_size: 256MiB    # a resumed copy re-copies at most this much
  register_feature: false    # M-5: register Microsoft.Compute/EncryptionAtHost and wait, instead of refusing
  reminder_interval: 24h     # how often a run waiting for a person says so again
  rebuild:                   # M-4: the new VM's image and first login
    image: {publisher: Canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}  # or {id: <image id>}
    admin_username: azureuser
    ssh_public_key: ssh-ed25519 AAAA... ops@example
vms:
  - id: /subscriptions/.../virtualMachines/db-01
    migrate: {path: copy-disks, target_name: db-01-new}   # target_name: for one listed VM only
```

Each key of a VM's (or selector's) ``migrate`` replaces the fleet's as a whole (``cleanup`` and ``rebuild`` are not
merged item by item), as the rollout settings do. Rules that span keys (a rebuild needs its image, NIC reuse is for
the copy path only, a window ends after it starts, the new VM's name is not the source's) are checked on the merged
settings and reported where the most specific key involved was written. Values parse with
:mod:`adeflow.domain.values`; a ``TODO`` left by ``adeflow migrate plan`` is refused with what to fill in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import PlainValidator

from adeflow.domain import values
from adeflow.domain.migration.fleet import MigrationSettings
from adeflow.domain.migration.payloads import CleanupPolicy, DowntimeWindow, NicPolicy, PathPolicy, RebuildSpec
from adeflow.domain.model import ImageRef, VmRef
from adeflow.inputs.settings_block import INVALID, Given
from adeflow.inputs.validation import Strict, check
from adeflow.inputs.yaml_nodes import At, given

MIGRATE_KEYS: Final = (
    "path",
    "rebuild",
    "nic",
    "downtime",
    "cleanup",
    "target_suffix",
    "target_name",
    "sas_duration",
    "copy_parallelism",
    "checkpoint_size",
    "register_feature",
    "reminder_interval",
)

Migrate = dict[str, Given]
"""``migrate`` keys as written (values parsed, or :data:`INVALID`), with where they were written."""

Flag = Annotated[bool, PlainValidator(values.parse_flag)]


def _part(what: str) -> Any:
    return PlainValidator(lambda value: values.parse_image_part(value, what))


class ImageFields(Strict):
    publisher: Annotated[str, _part("publisher")] | None = None
    offer: Annotated[str, _part("offer")] | None = None
    sku: Annotated[str, _part("sku")] | None = None
    version: Annotated[str, PlainValidator(values.parse_image_version)] | None = None
    id: Annotated[str, PlainValidator(values.parse_image_id)] | None = None


class RebuildFields(Strict):
    image: ImageFields | None = None
    admin_username: Annotated[str, PlainValidator(values.parse_admin_username)] | None = None
    ssh_public_key: Annotated[str, PlainValidator(values.parse_ssh_public_key)] | None = None


class CleanupFields(Strict):
    delete_source_vm: Flag | None = None
    delete_source_disks: Flag | None = None
    delete_source_nics: Flag | None = None
    reset_vault_disk_encryption: Flag | None = None


class WindowFields(Strict):
    start: Annotated[datetime, PlainValidator(values.parse_timestamp)] | None = None
    end: Annotated[datetime, PlainValidator(values.parse_timestamp)] | None = None


class MigrateFields(Strict):
    """One ``migrate`` section (field order = :data:`MIGRATE_KEYS`, as messages list them)."""

    path: Annotated[PathPolicy, PlainValidator(values.parse_path_policy)] | None = None
    rebuild: RebuildFields | None = None
    nic: Annotated[NicPolicy, PlainValidator(values.parse_nic_policy)] | None = None
    downtime: Any = None
    """``approval`` or a window mapping: read by :func:`_downtime`, so its problems name start and end."""
    cleanup: CleanupFields | None = None
    target_suffix: Annotated[str, PlainValidator(values.parse_name_suffix)] | None = None
    target_name: Annotated[str, PlainValidator(values.parse_vm_name)] | None = None
    sas_duration: Annotated[int, PlainValidator(values.parse_sas_duration)] | None = None
    copy_parallelism: Annotated[int, PlainValidator(values.parse_copy_parallelism)] | None = None
    checkpoint_size: Annotated[int, PlainValidator(values.parse_checkpoint_size)] | None = None
    register_feature: Flag | None = None
    reminder_interval: Annotated[float, PlainValidator(values.parse_duration)] | None = None


def read_migrate(at: At, depth: int, *, one_vm: bool) -> Migrate | None:
    """A ``migrate`` section (the fleet's at depth 1, a VM's or selector's at depth 2); None if not a mapping."""
    checked = check(MigrateFields, at)
    if checked is None:
        return None
    found: Migrate = {}
    for key in MIGRATE_KEYS:
        if key not in checked.given:
            continue
        place = at.child(key)
        value: Any = INVALID if key in checked.invalid else getattr(checked.model, key)
        if key == "target_name" and not one_vm:
            place.report("names one new VM: give it in a listed VM's migrate section, not for many VMs", key=True)
            value = INVALID
        elif key == "rebuild":
            value = _rebuild(place, None if value is INVALID else value)
        elif key == "cleanup" and value is not INVALID:
            value = _cleanup(value)
        elif key == "downtime":
            value = _downtime(place)
        found[key] = Given(value, at.doc.source, place.line(), place.field, depth)
    return found


def broken_migrate(at: At) -> Migrate:
    """An unreadable fleet ``migrate`` section: every key counts as given-but-invalid, so VMs do not each report."""
    return dict.fromkeys(MIGRATE_KEYS, Given(INVALID, at.doc.source, at.line(), at.field, 1))


def _rebuild(at: At, model: RebuildFields | None) -> object:
    """A whole rebuild spec, or :data:`INVALID` (each problem reported: missing keys too, next to wrong values)."""
    raw = at.raw
    needed = ("image", "admin_username", "ssh_public_key")
    missing = [k for k in needed if isinstance(raw, dict) and k not in given(raw)]
    if missing:
        at.report(f"missing {', '.join(missing)}: a rebuild needs image, admin_username and ssh_public_key (M-4)")
    image = _image(at.child("image"), model.image if model else None) if "image" not in missing else None
    if model is None or image is None or model.admin_username is None or model.ssh_public_key is None:
        return INVALID
    return RebuildSpec(image=image, admin_username=model.admin_username, ssh_public_key=model.ssh_public_key)


def _image(at: At, model: ImageFields | None) -> ImageRef | None:
    raw = at.raw
    written = set(given(raw)) if isinstance(raw, dict) else set()
    marketplace = [k for k in ("publisher", "offer", "sku", "version") if k in written]
    if "id" in written and marketplace:
        at.report(f"give either id or publisher, offer, sku (+ version); not both ({', '.join(['id', *marketplace])})")
        return None
    if "id" not in written and not {"publisher", "offer", "sku"} <= written and isinstance(raw, dict):
        missing = ", ".join(k for k in ("publisher", "offer", "sku") if k not in written)
        at.report(f"missing {missing}: name a marketplace image by publisher, offer and sku, or give id (M-4)")
        return None
    if model is None:
        return None
    if model.id is not None:
        return ImageRef(custom_image_id=model.id)
    if model.publisher is None or model.offer is None or model.sku is None:
        return None
    if "version" in written and model.version is None:
        return None
    return ImageRef(model.publisher, model.offer, model.sku, model.version or "latest")


def _cleanup(model: CleanupFields) -> CleanupPolicy:
    default = CleanupPolicy()
    return CleanupPolicy(
        delete_source_vm=_or(model.delete_source_vm, default.delete_source_vm),
        delete_source_disks=_or(model.delete_source_disks, default.delete_source_disks),
        delete_source_nics=_or(model.delete_source_nics, default.delete_source_nics),
        reset_vault_disk_encryption=_or(model.reset_vault_disk_encryption, default.reset_vault_disk_encryption),
    )


def _or(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _downtime(at: At) -> object:
    """``approval`` (None: wait for a recorded approval) or a window with a start and/or an end (M-7)."""
    raw = at.raw
    if isinstance(raw, str):
        try:
            values.parse_choice(raw, [values.DOWNTIME_APPROVAL])
        except ValueError:
            at.report(
                "expected approval or a window {start: <time>, end: <time>}; "
                f"{values.suggest(raw, [values.DOWNTIME_APPROVAL])}got {raw!r}"
            )
            return INVALID
        return None
    checked = check(
        WindowFields,
        at,
        expected=f"expected approval or a window {{start: <time>, end: <time>}}; got {values.kind_of(raw)}",
    )
    if checked is None or checked.invalid:
        return INVALID
    start, end = checked.model.start, checked.model.end
    if start is None and end is None:
        at.report("give start and/or end of the downtime window, or write approval (M-7)")
        return INVALID
    if start is not None and end is not None and end <= start:
        at.child("end").report(f"the downtime window must end after it starts ({start:%Y-%m-%dT%H:%M:%SZ}) (M-7)")
        return INVALID
    return DowntimeWindow(start=start, end=end)


# ---------------------------------------------------------------------------------------------------- merged


def resolve_migration(merged: Migrate, at: At, vm: VmRef | None) -> MigrationSettings | None:
    """The fleet's ``migrate`` with a VM's (or selector's, ``vm`` None) on top; cross-key rules reported at the most
    specific place involved. None when anything involved is wrong (already reported)."""

    def value(key: str) -> Any:
        item = merged.get(key)
        return None if item is None else item.value

    def report(keys: tuple[str, ...], message: str) -> None:
        involved = [merged[k] for k in keys if k in merged]
        if not involved:
            at.child("migrate").child(keys[0]).report(message, at=at)
            return
        spot = max(involved, key=lambda g: g.depth)
        at.doc.problems.add(spot.source, spot.line, spot.field, message)

    ok = all(item.value is not INVALID for item in merged.values())
    path = value("path")
    if path is PathPolicy.REBUILD and "rebuild" not in merged:
        ok = False
        report(
            ("path",),
            "path rebuild needs migrate.rebuild {image, admin_username, ssh_public_key}: the new VM's image and "
            "first login (M-4)",
        )
    if path is PathPolicy.REBUILD and value("nic") is NicPolicy.REUSE:
        ok = False
        report(
            ("nic", "path"),
            "nic reuse deletes the source VM object before the new VM exists; on the rebuild path the owner still "
            "moves the data from the source (M-4, M-7): use nic new",
        )
    name = value("target_name")
    if vm is not None and isinstance(name, str) and name.lower() == vm.name.lower():
        ok = False
        report(
            ("target_name",), f"the new VM must not be named like the source ({vm.name}): no in-place conversion (M-1)"
        )
    if not ok:
        return None
    downtime = merged.get("downtime")
    return MigrationSettings(
        path_policy=path,
        rebuild=value("rebuild"),
        nic_policy=value("nic"),
        downtime_window=downtime.value if downtime is not None else None,
        cleanup=value("cleanup"),
        target_suffix=value("target_suffix"),
        target_name=name,
        register_feature=value("register_feature"),
        sas_duration_s=value("sas_duration"),
        copy_parallelism=value("copy_parallelism"),
        checkpoint_bytes=value("checkpoint_size"),
        reminder_interval_s=value("reminder_interval"),
    )


def entry_migrate(at: At, *, one_vm: bool) -> Migrate:
    """A VM's or selector's own ``migrate`` (empty when it has none, or when it is unreadable: that is reported)."""
    raw = at.raw
    if not isinstance(raw, dict) or raw.get("migrate") is None:
        return {}
    return read_migrate(at.child("migrate"), 2, one_vm=one_vm) or {}
