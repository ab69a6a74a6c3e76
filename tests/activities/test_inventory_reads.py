"""read_vm_facts takes the ADE extension from the VM's own answer (``resources`` and ``instanceView.extensions``)
instead of a separate GET (issue 18: a read spared in preflight and one in verification), with the same facts."""

from __future__ import annotations

from collections.abc import Callable

from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.extension import ExtensionActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from adeflow.domain import rules
from adeflow.domain.arm_parse import parse_extension
from adeflow.domain.model import ADE_EXTENSION_NAME, ExtensionRequest, VmRef, VolumeType
from azuresim.server import SimServer
from tests.support.domain_facts import request as make_request
from tests.support.fleets import SUB, VAULT_ID, fleet_dict, vm

Azure = Callable[[SimServer], AzureClients]
REF = VmRef(SUB, "rg-web", "inv-01")
EXTENSION_READ = "VirtualMachineExtensions_Get"


async def test_the_extension_comes_with_the_vm_and_says_what_its_own_read_says(
    make_sim: Callable[..., SimServer], azure_for: Azure
) -> None:
    sim = make_sim(fleet_dict([vm("inv-01", data_disks=[{"lun": 0, "size_gb": 20}])]), scale=1000.0)
    clients = azure_for(sim)
    inventory = InventoryActivities(clients)
    bare = await ActivityEnvironment().run(inventory.read_vm_facts, REF)
    assert bare.ade_extension is None
    vault = (await ActivityEnvironment().run(KeyVaultActivities(clients).read_key_vault, VAULT_ID)).vault
    assert vault is not None
    settings = rules.plan_enable_settings(make_request(VolumeType.ALL), vault, VolumeType.ALL, "seq-0004")
    await ActivityEnvironment().run(
        ExtensionActivities(clients).put_encryption_extension, ExtensionRequest(REF, "eastus", settings)
    )
    sim.clock.scale = 1.0
    sim.clock.advance(1800)
    reads_before = sum(1 for r in sim.requests() if r.operation == EXTENSION_READ)

    facts = await ActivityEnvironment().run(inventory.read_vm_facts, REF)

    assert sum(1 for r in sim.requests() if r.operation == EXTENSION_READ) == reads_before  # none of its own
    own = await clients.compute(SUB).virtual_machine_extensions.get(
        "rg-web", "inv-01", ADE_EXTENSION_NAME, expand="instanceView"
    )
    assert facts.ade_extension == parse_extension(own.as_dict())
    assert facts.ade_extension is not None and facts.ade_extension.status is not None
    assert facts.ade_extension.sequence_version == "seq-0004"
    assert facts.ade_extension.status.progress is not None  # "Encrypting data volume 1/1: NN%"
