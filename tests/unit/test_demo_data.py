"""The demo data: the simulator fleet (examples/demo-fleet.yaml) and the demo rollout (examples/demo-rollout.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adeflow.domain.fleet import Manifest
from adeflow.domain.migration import PathPolicy
from adeflow.domain.model import ImageRef, VolumeType
from adeflow.domain.support import MATRIX
from adeflow.inputs.manifest import load_manifest, load_migration_manifest
from azuresim.fleet import FleetSpec, VmSpec, load_fleet

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLEET_PATH = EXAMPLES / "demo-fleet.yaml"
MANIFEST_PATH = EXAMPLES / "demo-rollout.yaml"

EXPECTED_INELIGIBLE = {
    # the original 21-VM fleet
    "web-win-01",  # R-PRE-1 Windows
    "web-legacy-01",  # R-LIM-4a Basic_A1
    "db-03",  # R-PRE-1 unlisted image (SLES 15)
    "db-ultra-01",  # R-LIM-4w
    "db-pv2-01",  # R-LIM-4x
    "app-03",  # R-PRE-1 unlisted image (SLES 15)
    "app-eph-01",  # R-LIM-4i
    "app-eah-01",  # R-LIM-4t encryption at host
    "batch-cmk-01",  # R-LIM-4t SSE + CMK
    "ops-01",  # R-PRE-2 vault not enabled for disk encryption
    "sec-01",  # R-LIM-4y Deny policy
    # added with the 50-VM fleet
    "api-vmss-01",  # R-LIM-4c
    "api-nvme-01",  # R-LIM-4o
    "api-small-01",  # R-PRE-1 memory
    "app-legacy-01",  # R-LIM-1
    "cache-wa-01",  # R-LIM-4s
}
LIFECYCLE_OUTSIDE_ROLLOUT = "dis-01"
SUPPORTED_SIZES = {"Standard_D2s_v5", "Standard_D4s_v5", "Standard_E4s_v5", "Standard_F4s_v2"}


@pytest.fixture(scope="module")
def fleet() -> FleetSpec:
    return load_fleet(FLEET_PATH)


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(MANIFEST_PATH)


def fleet_vms(fleet: FleetSpec) -> dict[tuple[str, str, str], VmSpec]:
    return {
        (sub.id.lower(), rg.name.lower(), vm.name.lower()): vm
        for sub in fleet.subscriptions
        for rg in sub.resource_groups
        for vm in rg.vms
    }


def ineligible_names() -> dict[str, str]:
    """VM name -> the ``# INELIGIBLE:`` comment just above its ``- name:`` line (other comments may follow)."""
    found: dict[str, str] = {}
    pending: str | None = None
    for line in FLEET_PATH.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("# INELIGIBLE:"):
            pending = stripped
        elif stripped.startswith("#"):
            continue
        elif pending is not None:
            match = re.match(r"^- name:\s*(\S+)$", stripped)
            assert match, f"an INELIGIBLE comment must precede a VM, not {stripped!r}"
            found[match.group(1)] = pending
            pending = None
    return found


def test_fleet_has_about_fifty_vms_over_three_subscriptions(fleet: FleetSpec) -> None:
    vms = fleet_vms(fleet)
    assert len(fleet.subscriptions) == 3
    assert 45 <= len(vms) <= 55
    assert all(any(rg.vms for rg in sub.resource_groups) for sub in fleet.subscriptions)


def test_disks_stay_small(fleet: FleetSpec) -> None:
    for vm in fleet_vms(fleet).values():
        if vm.os_type == "Linux":
            assert 30 <= vm.os_disk.size_gb <= 64, vm.name
        assert len(vm.data_disks) <= 2, vm.name
        assert all(16 <= d.size_gb <= 64 for d in vm.data_disks), vm.name


def test_ineligible_vms_are_the_expected_ones() -> None:
    assert set(ineligible_names()) == EXPECTED_INELIGIBLE


def test_new_ineligible_vms_name_their_rule() -> None:
    comments = ineligible_names()
    expected_rules = {
        "api-vmss-01": "R-LIM-4c",
        "api-nvme-01": "R-LIM-4o",
        "api-small-01": "R-PRE-1",
        "app-legacy-01": "R-LIM-1 ",
        "cache-wa-01": "R-LIM-4s",
    }
    for name, rule in expected_rules.items():
        assert rule in comments[name], (name, comments[name])


def test_eligible_vms_pass_the_support_matrix(fleet: FleetSpec) -> None:
    """Not the full preflight, only what the fleet file alone decides: image listed, size supported, memory."""
    ineligible = EXPECTED_INELIGIBLE
    for vm in fleet_vms(fleet).values():
        if vm.name in ineligible:
            continue
        image = ImageRef(vm.image.publisher, vm.image.offer, vm.image.sku, vm.image.version)
        support = MATRIX.image(image)
        assert support is not None and support.os_volume, vm.name
        assert vm.size in SUPPORTED_SIZES, vm.name
        assert MATRIX.size_problem(vm.size) is None, vm.name
        memory = MATRIX.memory_gib(vm.size)
        assert memory is not None and memory >= MATRIX.os_volume_min_memory_gib, vm.name
        assert vm.os_type == "Linux" and not vm.extensions and not (vm.scale_set_id or vm.scale_set), vm.name


def test_recovery_vaults_protect_eligible_vms_only(fleet: FleetSpec) -> None:
    protected = [
        item.vm
        for sub in fleet.subscriptions
        for rg in sub.resource_groups
        for vault in rg.recovery_vaults
        for item in vault.protected_vms
    ]
    assert 6 <= len(protected) <= 7
    assert not set(protected) & EXPECTED_INELIGIBLE


def test_every_manifest_vm_is_in_the_fleet(fleet: FleetSpec, manifest: Manifest) -> None:
    vms = fleet_vms(fleet)
    for resolved in manifest.vms:
        ref = resolved.ref
        assert (ref.subscription_id.lower(), ref.resource_group.lower(), ref.name.lower()) in vms, ref


def test_manifest_covers_the_fleet_except_the_disable_vm(fleet: FleetSpec, manifest: Manifest) -> None:
    fleet_names = {vm.name for vm in fleet_vms(fleet).values()}
    manifest_names = [resolved.ref.name for resolved in manifest.vms]
    assert LIFECYCLE_OUTSIDE_ROLLOUT in fleet_names
    assert LIFECYCLE_OUTSIDE_ROLLOUT not in manifest_names
    assert len(manifest_names) == len(set(manifest_names))
    assert set(manifest_names) == fleet_names - {LIFECYCLE_OUTSIDE_ROLLOUT}


def test_lifecycle_vms(fleet: FleetSpec, manifest: Manifest) -> None:
    vms = {vm.name: vm for vm in fleet_vms(fleet).values()}
    nd, dis = vms["nd-01"], vms["dis-01"]
    assert (nd.encrypted.os, nd.encrypted.data, len(nd.data_disks)) == (True, False, 1)
    assert (dis.encrypted.os, dis.encrypted.data, len(dis.data_disks)) == (False, True, 1)
    settings = next(r.settings for r in manifest.vms if r.ref.name == "nd-01")
    assert settings.volume_type is VolumeType.ALL  # R-NEW-2: OS -> All on re-enable
    assert "data-disks-mounted-in-fstab" in settings.confirmations  # R-NEW-1


def test_manifest_policy_and_settings(fleet: FleetSpec, manifest: Manifest) -> None:
    policy = manifest.rollout
    assert policy.name == "demo"
    assert (policy.concurrency, policy.per_subscription_concurrency, policy.canary) == (50, 25, 1)
    assert policy.waves == (10, 50)
    assert policy.failure_budget.fraction == pytest.approx(0.10)
    assert policy.poll_interval_s == 300
    vms = fleet_vms(fleet)
    for resolved in manifest.vms:
        ref = resolved.ref
        vm = vms[(ref.subscription_id.lower(), ref.resource_group.lower(), ref.name.lower())]
        settings = resolved.settings
        assert settings.volume_type is (VolumeType.ALL if vm.data_disks else None), ref.name
        assert settings.backup.value == "auto" and settings.restart.value == "auto", ref.name
        vault = settings.key_vault_id
        assert vault.lower().startswith(f"/subscriptions/{ref.subscription_id.lower()}/"), ref.name


README = EXAMPLES.parent / "README.md"
RESOURCE_ID = re.compile(
    r"/subscriptions/(?P<sub>[0-9a-f-]{36})/resourceGroups/(?P<rg>[\w.-]+)/providers/Microsoft\.(?P<kind>KeyVault/vaults|Compute/virtualMachines)/(?P<name>[\w.-]+)",
    re.IGNORECASE,
)


def _readme_examples_for_the_demo() -> list[Path]:
    """The example files the README runs against ``adeflow demo``: its campaign example and the manifest it names."""
    text = README.read_text()
    campaign = re.findall(r"adeflow campaign create (examples/\S+\.yaml)", text)
    named = re.findall(r"`(examples/(?:manifest|campaign)-demo\.yaml)`", text)
    return sorted({EXAMPLES.parent / p for p in [*campaign, *named]})


def test_readme_examples_name_only_what_the_demo_fleet_has(fleet: FleetSpec) -> None:
    """The README's examples run against the demo as written: every subscription, resource group, vault and VM
    they name is in examples/demo-fleet.yaml (the campaign example named a subscription the demo lacks)."""
    groups = {(s.id, rg.name): rg for s in fleet.subscriptions for rg in s.resource_groups}
    subscriptions = {s.id for s in fleet.subscriptions}
    files = _readme_examples_for_the_demo()
    assert {p.name for p in files} >= {"campaign-demo.yaml", "manifest-demo.yaml"}
    for path in files:
        text = path.read_text()
        for sub in re.findall(r"subscriptions?: \[?([0-9a-f-]{36})", text):
            assert sub in subscriptions, f"{path.name}: subscription {sub} is not in the demo fleet"
        for found in RESOURCE_ID.finditer(text):
            rg = groups.get((found["sub"], found["rg"]))
            assert rg is not None, f"{path.name}: {found[0]}"
            names = (
                [v.name for v in rg.key_vaults] if found["kind"].startswith("KeyVault") else [v.name for v in rg.vms]
            )
            assert found["name"] in names, f"{path.name}: {found[0]}"


@pytest.mark.migration
def test_the_demo_migration_takes_the_fleets_ade_vms_one_per_path(fleet: FleetSpec) -> None:
    """examples/demo-migrate.yaml: dis-01 (data volumes only) copies its disks (M-3), nd-01 (OS encrypted) is
    rebuilt (M-4); they are the only VMs the fleet file starts encrypted (``encrypted:``)."""
    migration = load_migration_manifest(EXAMPLES / "demo-migrate.yaml")
    vms = fleet_vms(fleet)
    encrypted = {vm.name for vm in vms.values() if vm.encrypted.os or vm.encrypted.data}
    paths = {entry.vm.ref.name: entry.migration.path_policy for entry in migration.vms}
    assert paths == {"dis-01": PathPolicy.COPY_DISKS, "nd-01": PathPolicy.REBUILD}
    assert set(paths) == encrypted
    for entry in migration.vms:
        ref = entry.vm.ref
        vm = vms[(ref.subscription_id.lower(), ref.resource_group.lower(), ref.name.lower())]
        assert vm.encrypted.os is (entry.migration.path_policy is PathPolicy.REBUILD), ref.name
