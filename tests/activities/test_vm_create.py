"""VM-create activities (R-VHD-1) through the real async SDK against the simulator (no SDK mocks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.vm_create import VmCreateActivities
from adeflow.domain import vhd
from adeflow.domain.model import KeyEncryptionKey
from azuresim.server import SimServer
from tests.support.create_from_vhd import KEK_URL, SECRET_URL, create_request, fleet
from tests.support.servers import SimFactory

Azure = Callable[[SimServer], AzureClients]


async def test_r_vhd_1_facts_are_read_with_gets_only_and_missing_objects_are_problems(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet(vms=[{"name": "web-01"}]))
    activities = VmCreateActivities(azure_for(sim))
    kek = KeyEncryptionKey(KEK_URL, create_request("x").key_vault_id)
    found = await ActivityEnvironment().run(activities.read_vhd_create_facts, create_request("vhd-01", kek=kek))
    assert found.vault.vault is not None and found.kek_vault is found.vault
    assert found.secret is not None and found.secret.current_url == SECRET_URL and found.secret.enabled
    assert found.key is not None and found.key.kty == "RSA"
    assert found.disk is not None and found.disk.os_type == "Linux" and not found.disk.managed_by
    assert not found.existing_vm.exists

    gone = create_request(
        "web-01",
        disk="nope",
        secret_url=SECRET_URL.replace("vhd-bek", "gone"),
        kek=KeyEncryptionKey(KEK_URL.replace("/kek/", "/gone/"), kek.vault_id),
    )
    missing = await ActivityEnvironment().run(activities.read_vhd_create_facts, gone)
    assert missing.secret is None and "404" in missing.secret_problem
    assert missing.key is None and "404" in missing.key_problem
    assert missing.disk is None and "404" in missing.disk_problem
    assert missing.existing_vm.exists and missing.existing_vm.refs is None
    assert all(r.method == "GET" for r in sim.requests())


async def test_r_vhd_1_create_refuses_a_vm_of_that_name_that_is_not_ours(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    """The race after preflight: someone else's VM appeared under the name; the activity must not PUT over it."""
    sim = make_sim(fleet(vms=[{"name": "web-01"}]))
    req = create_request("web-01")
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(
            VmCreateActivities(azure_for(sim)).create_vm_from_vhd,
            vhd.VmCreateRequest(req.vm, vhd.key_refs(req), vhd.build_vm_body(req, "eastus")),
        )
    assert err.value.non_retryable and err.value.type == "vm-name-taken" and "R-VHD-1" in err.value.message
    assert sim.writes_for("web-01") == []


async def test_r_vhd_1_create_sends_one_put_and_a_second_call_only_waits(
    make_sim: SimFactory, azure_for: Azure
) -> None:
    sim = make_sim(fleet())
    activities = VmCreateActivities(azure_for(sim))
    req = create_request("vhd-01")
    create = vhd.VmCreateRequest(req.vm, vhd.key_refs(req), vhd.build_vm_body(req, "eastus"))
    first = await ActivityEnvironment().run(activities.create_vm_from_vhd, create)
    second = await ActivityEnvironment().run(activities.create_vm_from_vhd, create)
    assert (first.sent_put, second.sent_put) == (True, False)
    assert first.provisioning_state == second.provisioning_state == "Succeeded"
    assert [r.operation for r in sim.writes_for("vhd-01")] == ["VirtualMachines_CreateOrUpdate"]
    seen = await ActivityEnvironment().run(activities.read_created_vm, req.vm)
    assert vhd.verify_created(req, seen).ok
