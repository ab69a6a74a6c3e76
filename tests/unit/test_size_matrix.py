"""R-PRE-1 / R-LIM-4a / R-LIM-4o: the size support matrix (adeflow/domain/data/ade_support.json) gives a verdict for
every size the Resource SKUs example payloads and the simulator's Resource SKUs name, whatever the name's casing
(ARM compares size and SKU names case-insensitively)."""

from __future__ import annotations

import json

import pytest

from adeflow.domain import rules
from adeflow.domain.migration.arm_read import host_encryption_support
from adeflow.domain.model import VolumeType
from adeflow.domain.support import MATRIX
from azuresim.state import skus
from tests.support.arm_examples import EXAMPLES
from tests.support.domain_facts import disk, vm_facts

ALL = "os+data"
"""Supported, with memory for the OS volume (8 GiB, R-PRE-1)."""
DATA = "data"
"""Supported, with memory for data volumes only (2 GiB)."""

VERDICTS = {
    "Basic_A0": "R-LIM-4a",
    "Basic_A1": "R-LIM-4a",
    "Basic_A2": "R-LIM-4a",
    "Basic_A3": "R-LIM-4a",
    "Basic_A4": "R-LIM-4a",
    "Standard_A0": "R-PRE-1",
    "Standard_A1": "R-PRE-1",
    "Standard_A2": "R-PRE-1",
    "Standard_A1_v2": "R-PRE-1",
    "Standard_A2_v2": "R-PRE-1",
    "Standard_A4_v2": "R-PRE-1",
    "Standard_A8_v2": "R-PRE-1",
    "Standard_B1s": "too-little-memory",
    "Standard_B1ms": DATA,
    "Standard_B2s": DATA,
    "Standard_B2ms": ALL,
    "Standard_B4ms": ALL,
    "Standard_B8ms": ALL,
    "Standard_B2s_v2": ALL,
    "Standard_B4s_v2": ALL,
    "Standard_D1_v2": DATA,
    "Standard_D2_v2": DATA,
    "Standard_D3_v2": ALL,
    "Standard_D4_v2": ALL,
    "Standard_DS1_v2": DATA,
    "Standard_DS2_v2": DATA,
    "Standard_DS3_v2": ALL,
    "Standard_DS4_v2": ALL,
    "Standard_DS5_v2": ALL,
    "Standard_D2_v3": ALL,
    "Standard_D4_v3": ALL,
    "Standard_D2s_v3": ALL,
    "Standard_D4s_v3": ALL,
    "Standard_E2s_v3": ALL,
    "Standard_E4s_v3": ALL,
    "Standard_D2s_v4": ALL,
    "Standard_D4s_v4": ALL,
    "Standard_D2as_v4": ALL,
    "Standard_D4as_v4": ALL,
    "Standard_D2s_v5": ALL,
    "Standard_D4s_v5": ALL,
    "Standard_D8s_v5": ALL,
    "Standard_D16s_v5": ALL,
    "Standard_D2ds_v5": ALL,
    "Standard_D4ds_v5": ALL,
    "Standard_D2as_v5": ALL,
    "Standard_D4as_v5": ALL,
    "Standard_D2ls_v5": DATA,  # 4 GiB: 2 GiB per vCPU, not the D family's 4
    "Standard_D4ls_v5": ALL,
    "Standard_E2s_v5": ALL,
    "Standard_E4s_v5": ALL,
    "Standard_E8s_v5": ALL,
    "Standard_E16s_v5": ALL,
    "Standard_E2bs_v5": ALL,  # SCSI or NVMe controller: the VM's diskControllerType decides (R-LIM-4o)
    "Standard_E4bs_v5": ALL,
    "Standard_E104i_v5": ALL,
    "Standard_D2s_v6": "R-PRE-1",
    "Standard_D4s_v6": "R-PRE-1",
    "Standard_E2s_v6": "R-PRE-1",
    "Standard_E4s_v6": "R-PRE-1",
    "Standard_D2ds_v6": "R-LIM-4o",  # its temporary disk is a local NVMe disk
    "Standard_D4ds_v6": "R-LIM-4o",
    "Standard_F2s_v2": DATA,
    "Standard_F4s_v2": ALL,
    "Standard_F8s_v2": ALL,
    "Standard_L8s_v2": "R-LIM-4o",
    "Standard_L16s_v2": "R-LIM-4o",
    "Standard_L8s_v3": "R-LIM-4o",
    "Standard_L16s_v3": "R-LIM-4o",
    "Standard_M8ms": ALL,
    "Standard_M128ms": ALL,
    "Standard_HB120rs_v3": "R-LIM-4o",
    "Standard_G5": "unknown",  # retired G-series: refused as unknown unless the operator overrides
}


def verdict(size: str) -> str:
    problem = MATRIX.size_problem(size)
    if problem is not None:
        return problem.rule
    memory = MATRIX.memory_gib(size)
    if memory is None:
        return "unknown"
    if memory >= MATRIX.os_volume_min_memory_gib:
        return ALL
    return DATA if memory >= MATRIX.data_volume_min_memory_gib else "too-little-memory"


def _example_sizes() -> list[str]:
    names: list[str] = []
    for path in sorted(EXAMPLES.glob("*ResourceSkus*.json")):
        for response in json.loads(path.read_text())["responses"].values():
            body = response.get("body") or {}
            names += [s["name"] for s in body.get("value", []) if s.get("resourceType") == "virtualMachines"]
    return names


def test_r_pre_1_every_size_the_resource_skus_examples_name_has_a_verdict() -> None:
    names = _example_sizes()
    assert names == ["Standard_A0", "Standard_A1"]
    assert {name: verdict(name) for name in names} == {name: VERDICTS[name] for name in names}


def test_r_pre_1_every_size_the_simulator_offers_has_the_listed_verdict() -> None:
    offered = [size.name for size in skus.CATALOG]
    assert sorted(offered) == sorted(VERDICTS), "a size was added or removed: give it a verdict here"
    assert {name: verdict(name) for name in offered} == VERDICTS


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_r_pre_1_size_names_compare_case_insensitively(name: str) -> None:
    assert verdict(name.upper()) == verdict(name.lower()) == VERDICTS[name]


def test_r_pre_1_matrix_memory_is_never_more_than_the_size_has() -> None:
    """The per-vCPU estimate is a lower bound: it must not let a size through that lacks the memory."""
    over = {
        s.name: (MATRIX.memory_gib(s.name), s.memory_gb)
        for s in skus.CATALOG
        if (MATRIX.memory_gib(s.name) or 0) > s.memory_gb
    }
    assert over == {}


def test_r_lim_4o_every_size_with_local_nvme_disks_or_only_nvme_is_refused() -> None:
    nvme = [s for s in skus.CATALOG if s.nvme_disks or s.controllers == "NVMe"]
    assert {"Standard_L8s_v3", "Standard_HB120rs_v3", "Standard_D2ds_v6", "Standard_D2s_v6"} <= {s.name for s in nvme}
    refused = {s.name: verdict(s.name) for s in nvme}
    assert all(v.startswith("R-") for v in refused.values()), refused
    assert [s.name for s in nvme if s.nvme_disks and refused[s.name] != "R-LIM-4o"] == []


def test_r_lim_4o_nvme_controller_on_a_supported_size_is_refused_by_the_vm_model() -> None:
    facts = vm_facts(size="Standard_E4bs_v5", disk_controller_type="NVMe")
    assert rules.check_support_matrix(facts, VolumeType.ALL, allow_unlisted=False) == []
    refusals = rules.check_vm_eligibility(facts, VolumeType.ALL)
    assert [(r.rule, r.reason) for r in refusals] == [("R-LIM-4o", "nvme-disk-controller")]
    assert rules.check_vm_eligibility(vm_facts(size="Standard_E4bs_v5", disk_controller_type="SCSI"), None) == []


@pytest.mark.parametrize(
    ("sku", "rule"), [("ultrassd_lrs", "R-LIM-4w"), ("ULTRASSD_LRS", "R-LIM-4w"), ("premiumv2_lrs", "R-LIM-4x")]
)
def test_r_lim_4w_4x_disk_skus_compare_case_insensitively(sku: str, rule: str) -> None:
    facts = vm_facts(data_disks=0, os_disk=disk("web-01-osdisk", sku=sku))
    assert [r.rule for r in rules.check_vm_eligibility(facts, VolumeType.DATA)] == [rule]


def test_simulator_size_lookup_is_case_insensitive() -> None:
    assert skus.vm_size("standard_e4bs_v5") is skus.vm_size("STANDARD_E4BS_V5") is skus.vm_size("Standard_E4bs_v5")
    assert skus.disk_controller("standard_d2s_v6", None) == "NVMe"
    assert skus.disk_controller("STANDARD_D2S_V5", None) == "SCSI"


def test_m6_resource_skus_lookup_compares_size_and_region_case_insensitively() -> None:
    """The Resource SKUs answer is searched as ARM names things: ``standard_a0`` in ``West US`` is the example's
    ``Standard_A0`` in ``westus`` (listed, without EncryptionAtHostSupported: not supported)."""
    example = json.loads((EXAMPLES / "ListAvailableResourceSkusForARegion.json").read_text())
    listed = example["responses"]["200"]["body"]["value"]
    assert host_encryption_support(listed, "standard_a0", "West US") is False
    assert host_encryption_support(listed, "STANDARD_A1", "WESTUS") is False
    assert host_encryption_support(listed, "Standard_A0", "eastus") is None
