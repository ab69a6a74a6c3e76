"""Migration manifests (issue 16): the ``migrate`` section of the manifest format becomes one ``MigrationInput`` per
VM; every problem is listed at once with file, line and field; values agree with the domain's preflight
(``migration.check_input``); each loader refuses the other kind of manifest in one line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adeflow.domain import migration
from adeflow.domain.migration.fleet import MigrationManifest, migration_inputs, planned_dates
from adeflow.domain.model import BackupPolicy, BackupWaiver, ImageRef, VmRef
from adeflow.inputs.manifest import (
    ManifestError,
    load_manifest,
    load_migration_manifest,
    parse_manifest_text,
    parse_migration_manifest_text,
)
from adeflow.inputs.migrate_block import MIGRATE_KEYS, MigrateFields

pytestmark = pytest.mark.migration

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-migrate.yaml"
SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
VMS = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Compute/virtualMachines"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk5tq1Ptq6a3sOAoVvHKN3Oz0CBrbGJ/zfEKTx6Vmfi ops@example"
IMAGE = "{publisher: Canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}"
REBUILD = f"rebuild: {{image: {IMAGE}, admin_username: azureuser, ssh_public_key: {KEY}}}"


def parse(text: str) -> MigrationManifest:
    return parse_migration_manifest_text(text, source="m.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        parse(text)
    return [problem.render() for problem in caught.value.problems]


def doc(migrate: str = "", vm: str = "", extra: str = "") -> str:
    """A migration manifest: the fleet's ``migrate`` lines, one VM db-01 with its own ``migrate`` lines, ``extra``."""
    fleet = "migrate:\n" + "".join(f"  {line}\n" for line in migrate.splitlines()) if migrate else "migrate: {}\n"
    own = "    migrate:\n" + "".join(f"      {line}\n" for line in vm.splitlines()) if vm else ""
    return f"{fleet}vms:\n  - id: {VMS}/db-01\n{own}{extra}"


def test_the_demo_manifest_gives_one_input_per_path() -> None:
    manifest = load_migration_manifest(DEMO)
    copy, rebuild = migration_inputs(manifest, rollout_id="demo-migrate")
    assert (copy.vm.name, copy.path_policy, copy.targets) == (
        "dis-01",
        migration.PathPolicy.COPY_DISKS,
        migration.TargetNames("dis-01-eah", "-eah"),
    )
    assert copy.downtime_window == migration.DowntimeWindow(
        datetime(2026, 11, 7, 22, tzinfo=UTC), datetime(2026, 11, 8, 4, tzinfo=UTC)
    )
    assert copy.rebuild is None and copy.backup_policy is BackupPolicy.SNAPSHOT
    assert (copy.deadline_s, copy.poll_interval_s, copy.rollout_id) == (86400.0, 300.0, "demo-migrate")
    assert (copy.sas_duration_s, copy.copy_parallelism, copy.checkpoint_bytes) == (14400, 8, 256 * migration.MIB)
    assert copy.register_feature and not copy.cleanup.reset_vault_disk_encryption
    assert (rebuild.vm.name, rebuild.path_policy, rebuild.downtime_window) == (
        "nd-01",
        migration.PathPolicy.REBUILD,
        None,
    )
    assert rebuild.rebuild is not None
    assert rebuild.rebuild.image == ImageRef("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "latest")
    assert planned_dates(manifest) == {copy.vm.key.lower(): date(2026, 11, 7)}
    # The domain's own input check (the preflight's) agrees with what the loader accepted.
    assert [migration.check_input(request) for request in (copy, rebuild)] == [[], []]


def test_an_empty_migrate_section_takes_the_inputs_defaults() -> None:
    (request,) = migration_inputs(parse(doc()))
    vm = VmRef(SUB, "rg-data", "db-01")
    assert request == migration.MigrationInput(vm=vm, targets=migration.TargetNames("db-01-eah", "-eah"))


def test_a_vms_migrate_keys_replace_the_fleets_as_a_whole() -> None:
    fleet = "nic: reuse\ncleanup: {delete_source_nics: false, reset_vault_disk_encryption: true}\ntarget_suffix: -v2"
    text = doc(fleet, vm="cleanup: {delete_source_vm: false}\ntarget_name: db-01-new") + f"  - id: {VMS}/db-02\n"
    own, other = migration_inputs(parse(text))
    assert own.cleanup == migration.CleanupPolicy(delete_source_vm=False)
    assert own.targets == migration.TargetNames("db-01-new", "-v2")
    assert other.cleanup == migration.CleanupPolicy(delete_source_nics=False, reset_vault_disk_encryption=True)
    assert other.targets == migration.TargetNames("db-02-v2", "-v2")
    assert own.nic_policy is other.nic_policy is migration.NicPolicy.REUSE


def test_selectors_carry_their_migrate_settings_for_the_vms_found_at_run_time() -> None:
    text = (
        f"migrate: {{path: copy-disks}}\nselectors:\n  - subscription: {SUB}\n    tags: {{ade: 'yes'}}\n"
        f"    backup: waive\n    backup_waiver: {{operator: alice, statement: DR copy 4711}}\n"
        f"    migrate: {{copy_parallelism: 16, downtime: {{end: '2026-12-01T06:00:00+01:00'}}}}\n"
    )
    manifest = parse(text)
    (entry,) = manifest.selectors
    found = VmRef(SUB, "rg-x", "found-01")
    request = entry.migration.to_input(found, entry.selector.settings, manifest.rollout, "r-1")
    assert (request.path_policy, request.copy_parallelism) == (migration.PathPolicy.COPY_DISKS, 16)
    assert request.downtime_window == migration.DowntimeWindow(None, datetime(2026, 12, 1, 5, tzinfo=UTC))
    assert request.backup_waiver == BackupWaiver("alice", "DR copy 4711")
    assert manifest.fleet.selectors == [entry.selector]


def test_image_by_resource_id_and_times_in_any_zone() -> None:
    gallery = f"/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.Compute/galleries/g/images/u24"
    text = doc(
        f"path: rebuild\nrebuild: {{image: {{id: {gallery}}}, admin_username: ops_1, ssh_public_key: {KEY}}}\n"
        "downtime: {start: 2026-11-07 23:00:00+01:00, end: '2026-11-08T05:00Z'}"
    )
    (request,) = migration_inputs(parse(text))
    assert request.rebuild == migration.RebuildSpec(ImageRef(custom_image_id=gallery), "ops_1", KEY)
    assert request.downtime_window == migration.DowntimeWindow(
        datetime(2026, 11, 7, 22, tzinfo=UTC), datetime(2026, 11, 8, 5, tzinfo=UTC)
    )


def test_the_bounds_the_loader_accepts_pass_the_preflights_input_check() -> None:
    text = doc("sas_duration: 5m\ncopy_parallelism: 64\ncheckpoint_size: 4MiB\nreminder_interval: 1s", vm=REBUILD)
    (request,) = migration_inputs(parse(text))
    assert (request.sas_duration_s, request.copy_parallelism, request.checkpoint_bytes) == (300, 64, 4 * migration.MIB)
    assert migration.check_input(request) == []


# ------------------------------------------------------------------------------------------- refusals


def test_each_loader_refuses_the_other_kind_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as rollout:
        load_manifest(DEMO)
    assert [p.render() for p in rollout.value.problems] == [
        f"{DEMO}:17: migrate: a manifest with a migrate section is a migration manifest, run by adeflow migrate; ADE "
        "rollouts and campaigns take a manifest without one"
    ]
    with pytest.raises(ManifestError) as migrate:
        load_migration_manifest(ROOT / "examples" / "manifest-demo.yaml")
    assert [p.message for p in migrate.value.problems] == [
        "not a migration manifest: add a top-level migrate section (migrate: {} takes every default; "
        "docs/ade-migration.md)"
    ]
    csv = tmp_path / "vms.csv"
    csv.write_text(f"id\n{VMS}/db-01\n")
    with pytest.raises(ManifestError, match=r"a migration manifest is \.yaml or \.yml"):
        load_migration_manifest(csv)


def test_a_rollout_manifest_refuses_migrate_on_a_vm() -> None:
    text = f"defaults: {{key_vault_id: {VMS.split('/providers')[0]}/providers/Microsoft.KeyVault/vaults/kv-ade}}\n"
    with pytest.raises(ManifestError) as caught:
        parse_manifest_text(text + f"vms:\n  - id: {VMS}/db-01\n    migrate: {{path: rebuild}}\n", source="r.yaml")
    assert [p.render() for p in caught.value.problems] == [
        "r.yaml:4: vms[0].migrate: migrate settings belong to a migration manifest: one with a top-level migrate "
        "section, run by adeflow migrate"
    ]


def test_ade_settings_do_not_apply_and_no_vault_is_needed() -> None:
    assert problems(doc(extra="    volume_type: Data\n")) == [
        "m.yaml:4: vms[0].volume_type: does not apply to a migration manifest: it sets ADE up, and a migration "
        "moves VMs off ADE; remove it (a migration manifest takes backup, backup_waiver and migrate)"
    ]


def test_todo_values_left_by_the_plan_are_refused_with_what_to_fill_in() -> None:
    text = doc(
        "rebuild:\n  image: {publisher: TODO, offer: TODO, sku: TODO, version: latest}\n"
        "  admin_username: TODO\n  ssh_public_key: TODO"
    )
    assert problems(text) == [
        "m.yaml:3: migrate.rebuild.image.publisher: still TODO: name the image's publisher (M-4), or give image.id "
        "instead",
        "m.yaml:3: migrate.rebuild.image.offer: still TODO: name the image's offer (M-4), or give image.id instead",
        "m.yaml:3: migrate.rebuild.image.sku: still TODO: name the image's sku (M-4), or give image.id instead",
        "m.yaml:4: migrate.rebuild.admin_username: still TODO: name the new VM's admin user (M-4)",
        "m.yaml:5: migrate.rebuild.ssh_public_key: still TODO: give the admin user's SSH public key (M-4), the line "
        "from ~/.ssh/id_ed25519.pub",
    ]


def test_rules_that_span_keys_are_reported_where_the_most_specific_key_was_written() -> None:
    assert problems(doc(vm="path: rebuild")) == [
        "m.yaml:5: vms[0].migrate.path: path rebuild needs migrate.rebuild {image, admin_username, ssh_public_key}: "
        "the new VM's image and first login (M-4)"
    ]
    assert problems(doc(f"nic: reuse\n{REBUILD}", vm="path: rebuild")) == [
        "m.yaml:7: vms[0].migrate.path: nic reuse deletes the source VM object before the new VM exists; on the "
        "rebuild path the owner still moves the data from the source (M-4, M-7): use nic new"
    ]
    window = "downtime: {start: 2026-11-08T04:00:00Z, end: 2026-11-07T22:00:00Z}"
    assert problems(doc(window)) == [
        "m.yaml:2: migrate.downtime.end: the downtime window must end after it starts (2026-11-08T04:00:00Z) (M-7)"
    ]
    assert problems(doc(vm="target_name: DB-01")) == [
        "m.yaml:5: vms[0].migrate.target_name: the new VM must not be named like the source (db-01): no in-place "
        "conversion (M-1)"
    ]
    assert problems(doc("target_name: web-new")) == [
        "m.yaml:2: migrate.target_name: names one new VM: give it in a listed VM's migrate section, not for many VMs"
    ]


def test_every_problem_at_once_with_its_line() -> None:
    text = doc(
        "path: sideways\nnic: keep\ndowntime: {start: '2026-11-07T22:00:00'}\nsas_duration: 4m\n"
        "checkpoint_size: 256MB\ncleanup: {delete_vm: true}\nrebuild: {image: {publisher: Canonical}}",
        vm="copy_parallelism: 0\ndowntime: soon",
    )
    assert problems(text) == [
        "m.yaml:2: migrate.path: must be one of auto, copy-disks, rebuild; got 'sideways'",
        "m.yaml:3: migrate.nic: must be one of new, reuse; got 'keep'",
        "m.yaml:4: migrate.downtime.start: give the time zone (Z or +01:00); expected a time with its zone, e.g. "
        "2026-11-07T22:00:00Z or 2026-11-07T23:00:00+01:00",
        "m.yaml:5: migrate.sas_duration: must be at least 5m (300 s): a copy renews the SAS, not every few seconds",
        "m.yaml:6: migrate.checkpoint_size: expected a size in MiB or GiB, e.g. 256MiB or 1GiB; got '256MB'",
        'm.yaml:7: migrate.cleanup.delete_vm: unknown key "delete_vm"; did you mean "delete_source_vm"? allowed '
        "keys: delete_source_vm, delete_source_disks, delete_source_nics, reset_vault_disk_encryption",
        "m.yaml:8: migrate.rebuild: missing admin_username, ssh_public_key: a rebuild needs image, admin_username "
        "and ssh_public_key (M-4)",
        "m.yaml:8: migrate.rebuild.image: missing offer, sku: name a marketplace image by publisher, offer and sku, "
        "or give id (M-4)",
        "m.yaml:12: vms[0].migrate.copy_parallelism: must be between 1 and 64; got 0",
        "m.yaml:13: vms[0].migrate.downtime: expected approval or a window {start: <time>, end: <time>}; got 'soon'",
    ]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("2026-11-07", "give a time and its zone, not only a date"),
        ("'2026-11-07 22:00'", "expected a time with its zone"),
        ("'2026-02-30T22:00:00Z'", "'2026-02-30T22:00:00Z' is not a valid time"),
    ],
)
def test_window_times_need_a_zone(written: str, message: str) -> None:
    (problem,) = problems(doc(f"downtime: {{start: {written}}}"))
    assert message in problem


def test_the_format_lists_every_migrate_key() -> None:
    assert tuple(MigrateFields.model_fields) == MIGRATE_KEYS


def test_migration_inputs_round_trip_through_temporal() -> None:
    from temporalio.converter import DataConverter

    converter = DataConverter.default.payload_converter
    requests = migration_inputs(load_migration_manifest(DEMO))
    back = converter.from_payloads(converter.to_payloads(requests), [migration.MigrationInput] * len(requests))
    assert back == requests
