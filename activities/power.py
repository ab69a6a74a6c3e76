"""Restart a VM: what ``VMRestartPending`` asks for, under the fleet's restart policy (R-ENA-2)."""

from __future__ import annotations

import structlog
from azure.core.exceptions import HttpResponseError
from temporalio import activity

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from activities.azure.heartbeat import await_with_heartbeat
from adeflow.domain.model import VmRef

log = structlog.get_logger(__name__)


class PowerActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="restart_vm")
    async def restart_vm(self, vm: VmRef) -> None:
        """A repeated restart is harmless here: the OS volume is already encrypted when ADE asks for one."""
        compute = self._clients.compute(vm.subscription_id)
        try:
            log.info("restarting the VM to finish the OS volume (VMRestartPending)")
            poller = await compute.virtual_machines.begin_restart(vm.resource_group, vm.name)
            await await_with_heartbeat(poller.result(), f"restarting {vm.name}")
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"restarting VM {vm.name}") from exc
