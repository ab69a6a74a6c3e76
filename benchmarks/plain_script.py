"""The plain-script baseline (issue 9, item 3): what an operator writes with ``az`` and ``xargs -P``.

A parallel loop over the same VMs with the same Azure SDK calls adeflow's happy path makes (VM read, incremental
snapshots of every disk, the ADE extension PUT with ``az vm encryption enable``'s settings, status polls of the
extension's instance view, a final instance-view read), at the same concurrency and poll interval, and nothing
else: no preflight, no ARM budget, no durability, no record of where each VM stands if the script dies. Like a
careful operator (and like the rollout's canary), it runs one VM first, then the rest.

Not product code: it exists so that ``benchmarks.fleet`` can report adeflow's wall time over this one's
(:func:`bench_plain_script`: the same fleet, clock and ARM budgets as the rollout of :mod:`benchmarks.rollout`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import Snapshot, VirtualMachineExtension

from activities.azure.credentials import AsyncStaticTokenCredential
from adeflow.domain.arm_parse import parse_extension
from adeflow.domain.model import ADE_EXTENSION_NAME, ADE_PUBLISHER, ADE_TYPE_HANDLER_VERSION, VolumeState
from azuresim.clock import SimClock
from benchmarks.metrics import request_kinds
from benchmarks.processes import simulator
from benchmarks.workload import POLL_SIM_S, ROLLOUT_SIM, SUB, VAULT, fleet_spec, varied_vms, vault_id


@dataclass(frozen=True)
class PlainTarget:
    endpoint: str
    ca_file: str
    subscription_id: str
    resource_group: str
    key_vault_id: str
    key_vault_url: str


@dataclass(frozen=True)
class PlainResult:
    wall_s: float
    encrypted: int
    failed: list[str]


async def _encrypt(compute: ComputeManagementClient, target: PlainTarget, name: str, poll_s: float) -> None:
    rg = target.resource_group
    vm = await compute.virtual_machines.get(rg, name)
    profile: Any = vm.storage_profile
    disks = [profile.os_disk.managed_disk.id] + [d.managed_disk.id for d in profile.data_disks or []]
    tag = uuid.uuid4().hex[:8]

    async def snapshot(disk_id: str) -> None:
        body: dict[str, Any] = {
            "location": vm.location,
            "sku": {"name": "Standard_LRS"},
            "properties": {"incremental": True, "creationData": {"createOption": "Copy", "sourceResourceId": disk_id}},
        }
        name = f"{disk_id.rsplit('/', 1)[-1]}-{tag}"
        poller = await compute.snapshots.begin_create_or_update(rg, name, Snapshot(body))
        await poller.result()

    await asyncio.gather(*(snapshot(d) for d in disks))
    settings = {
        "EncryptionOperation": "EnableEncryption",
        "KeyVaultURL": target.key_vault_url,
        "KeyVaultResourceId": target.key_vault_id,
        "KeyEncryptionAlgorithm": "RSA-OAEP",
        "VolumeType": "All",
        "SequenceVersion": str(uuid.uuid4()),
    }
    extension: dict[str, Any] = {
        "location": vm.location,
        "properties": {
            "publisher": ADE_PUBLISHER,
            "type": ADE_EXTENSION_NAME,
            "typeHandlerVersion": ADE_TYPE_HANDLER_VERSION,
            "autoUpgradeMinorVersion": True,
            "settings": settings,
        },
    }
    extensions = compute.virtual_machine_extensions
    put = await extensions.begin_create_or_update(rg, name, ADE_EXTENSION_NAME, VirtualMachineExtension(extension))
    await put.result()
    while True:  # `az vm encryption show` in a loop
        ext = await compute.virtual_machine_extensions.get(rg, name, ADE_EXTENSION_NAME, expand="instanceView")
        status = parse_extension(ext.as_dict()).status
        if status is not None and status.os is VolumeState.ENCRYPTED and status.data is VolumeState.ENCRYPTED:
            break
        await asyncio.sleep(poll_s)
    await compute.virtual_machines.instance_view(rg, name)


async def encrypt_fleet(target: PlainTarget, names: list[str], concurrency: int, poll_s: float) -> PlainResult:
    """One VM, then the rest ``concurrency`` at a time; a VM that raises is counted failed, the rest go on."""
    credential = AsyncStaticTokenCredential("sim-token")
    compute = ComputeManagementClient(
        credential,
        target.subscription_id,
        base_url=target.endpoint,
        connection_verify=target.ca_file,
        credential_scopes=["https://management.azure.com/.default"],
        polling_interval=1,
    )
    gate = asyncio.Semaphore(concurrency)
    failed: list[str] = []

    async def one(name: str) -> None:
        async with gate:
            try:
                await _encrypt(compute, target, name, poll_s)
            except Exception as exc:  # the script reports and goes on, like xargs
                failed.append(f"{name}: {exc}")

    started = time.monotonic()
    try:
        await one(names[0])
        await asyncio.gather(*(one(n) for n in names[1:]))
    finally:
        await compute.close()
        await credential.close()
    return PlainResult(wall_s=time.monotonic() - started, encrypted=len(names) - len(failed), failed=failed)


async def bench_plain_script(work: Path, vms: int, concurrency: int, scale: float) -> dict[str, Any]:
    """The plain-script baseline on the same fleet, clock and ARM budgets as the rollout."""
    rg = "rg-bench"
    fleet = fleet_spec(rg, varied_vms(vms), ROLLOUT_SIM)
    with simulator(fleet, SimClock(scale=scale), work / "sim-plain") as sim:
        target = PlainTarget(sim.base_url, str(sim.ca_path), SUB, rg, vault_id(rg), f"https://{VAULT}.vault.azure.net/")
        names = [v.name for v in fleet.subscriptions[0].resource_groups[0].vms]
        result = await encrypt_fleet(target, names, concurrency, POLL_SIM_S / scale)
        records = sim.requests()
    kinds = request_kinds(records)
    return {
        "vms": vms,
        "encrypted": result.encrypted,
        "failed": result.failed[:5],
        "measured_s": result.wall_s,
        "arm": kinds,
        "arm_per_vm": {k: v / vms for k, v in kinds.items()},
    }
