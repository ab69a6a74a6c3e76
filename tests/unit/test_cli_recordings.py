"""The vendored Azure CLI recordings (tests/fixtures/azure-cli-recordings) are well formed and name their source, and
the comparison that holds the simulator to them finds what it must (so a conformance test cannot pass by comparing
nothing)."""

from __future__ import annotations

import json

import pytest

from azuresim.providers.disks import disk_performance
from tests.support.cli_recordings import (
    RECORDINGS,
    format_problems,
    header_diff,
    load,
    lro_url_shape,
    recording_files,
    shape_diff,
)

pytestmark = pytest.mark.conformance

# The interactions the conformance module replays (tests/sim/test_conformance_cli_recordings.py): at least these.
VENDORED_AT_LEAST = 25


def test_each_file_is_well_formed_and_names_its_source() -> None:
    files = recording_files()
    assert len(files) >= 2
    for path in files:
        data = json.loads(path.read_text())
        assert format_problems(data) == [], path.name
        # The file is named after the recording it excerpts.
        assert data["source"]["path"].endswith(f"/{path.stem}.yaml"), path.name


def test_the_readme_names_each_file_its_source_and_commit_and_keeps_the_licence() -> None:
    readme = (RECORDINGS / "README.md").read_text()
    for path in recording_files():
        source = json.loads(path.read_text())["source"]
        assert f"`{path.name}`" in readme and source["path"] in readme and source["commit"] in readme
    assert "MIT License" in readme and "Copyright (c) Microsoft Corporation" in readme


def test_enough_interactions_are_vendored_and_each_has_a_unique_name() -> None:
    recorded = [rec for path in recording_files() for rec in load(path.name)]
    assert len(recorded) >= VENDORED_AT_LEAST
    assert len({rec.key for rec in recorded}) == len(recorded)
    operations = {rec.operation for rec in recorded}
    assert {
        "VirtualMachines_Get",
        "VirtualMachineExtensions_CreateOrUpdate",
        "VirtualMachineExtensions_Get",
        "VirtualMachineExtensions_Delete",
        "VirtualMachines_Deallocate",
        "AsyncOperation_Get",
        "Disks_Get",
        "Disks_GrantAccess",
        "DiskOperations_Get",
        "Snapshots_CreateOrUpdate",
        "Snapshots_Get",
    } <= operations


@pytest.mark.parametrize(
    ("ours", "recorded", "diffs"),
    [
        ({"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": "y"}}, []),
        ({"a": 1}, {"a": 1, "b": 2}, ["missing .b"]),
        ({"a": 1, "z": 0}, {"a": 1}, ["extra .z"]),
        ({"a": "1"}, {"a": 1}, ["type .a: string where ARM sent number"]),
        ({"a": None}, {"a": 1}, []),
        ({"provisioningState": "succeeded"}, {"provisioningState": "Succeeded"}, [
            "enum .provisioningState: 'succeeded' where ARM sends 'Succeeded'",
            "phase .provisioningState: 'succeeded' where ARM sent 'Succeeded'",
        ]),
        ({"provisioningState": "Creating"}, {"provisioningState": "Updating"}, [
            "phase .provisioningState: 'Creating' where ARM sent 'Updating'",
        ]),
        ({"diskState": "unattached"}, {"diskState": "ActiveSAS"}, [
            "enum .diskState: 'unattached' cased unlike ARM's 'ActiveSAS'",
        ]),
        ({"s": [{"code": "powerstate/running"}]}, {"s": [{"code": "PowerState/running"}]}, [
            "enum .s[].code: 'powerstate/running' where ARM spells 'PowerState/running'",
        ]),
        # A status is compared with the recorded status of its kind: the power state has no time in ARM's answer.
        (
            {"s": [{"code": "ProvisioningState/succeeded", "time": "t"}, {"code": "PowerState/running"}]},
            {"s": [{"code": "ProvisioningState/succeeded", "time": "t"}, {"code": "PowerState/running"}]},
            [],
        ),
        ({"s": [{"code": "PowerState/running", "time": "t"}]}, {"s": [{"code": "PowerState/running"}]}, [
            "extra .s[].time",
        ]),
        ({"properties": {"settings": {"Anything": 1}}}, {"properties": {"settings": {}}}, []),
        ({"tags": {"env": "prod"}}, {"tags": {"firsttag": "1"}}, []),
        # A kind of status ARM did not show in that list: nothing required of it, its keys still checked.
        (
            {"s": [{"code": "EncryptionState/notEncrypted", "level": "Info", "x": 1}]},
            {"s": [{"code": "ProvisioningState/succeeded", "level": "Info", "time": "t"}]},
            ["extra .s[].x"],
        ),
    ],
)  # fmt: skip
def test_shape_diff(ours: object, recorded: object, diffs: list[str]) -> None:
    assert shape_diff(ours, recorded) == sorted(diffs)


def test_header_diff_sees_absent_extra_and_other_kinds_of_lro_url() -> None:
    compute = "https://h/subscriptions/s/providers/Microsoft.Compute/locations/l/operations/1?api-version=x"
    disk_rp = "https://h/subscriptions/s/providers/Microsoft.Compute/locations/l/DiskOperations/1?api-version=x"
    assert lro_url_shape(disk_rp + "&monitor=true") == ("DiskOperations", True)
    assert header_diff({"azure-asyncoperation": compute}, {"Azure-AsyncOperation": compute}) == []
    assert header_diff({}, {"Azure-AsyncOperation": compute}) == ["missing header Azure-AsyncOperation"]
    assert header_diff({"Location": compute, "Retry-After": "1"}, {}) == [
        "extra header Location",
        "extra header Retry-After",
    ]
    assert header_diff({"Azure-AsyncOperation": compute}, {"Azure-AsyncOperation": disk_rp}) == [
        "header Azure-AsyncOperation: ('operations', False) where ARM sent ('DiskOperations', False)"
    ]


@pytest.mark.parametrize(
    ("sku", "size_gb", "expected"),
    [
        # As test_vm_managed_disk.yaml records them (disks d1 and d2 of that test).
        ("Premium_LRS", 1, {"diskIOPSReadWrite": 120, "diskMBpsReadWrite": 25, "tier": "P1"}),
        ("Premium_LRS", 10, {"diskIOPSReadWrite": 120, "diskMBpsReadWrite": 25, "tier": "P3"}),
        ("Standard_LRS", 10, {"diskIOPSReadWrite": 500, "diskMBpsReadWrite": 60}),
        ("Premium_LRS", 1024, {"diskIOPSReadWrite": 5000, "diskMBpsReadWrite": 200, "tier": "P30"}),
        ("StandardSSD_LRS", 64, {"diskIOPSReadWrite": 500, "diskMBpsReadWrite": 60}),
        ("UltraSSD_LRS", 64, {}),
    ],
)
def test_disk_performance_figures(sku: str, size_gb: int, expected: dict[str, object]) -> None:
    assert disk_performance(sku, size_gb) == expected
