"""CreateVmFromEncryptedVhdWorkflow inputs (R-VHD-1): a fleet whose vault holds the VHD's secret and a KEK, with
imported OS disks, and the request that attaches one."""

from __future__ import annotations

from typing import Any

from adeflow.domain.model import CreateFromVhdInput, VmRef
from azuresim.state.keyvault import object_version
from tests.support.fleets import SUB, VAULT_ID, fleet_dict

PROVIDERS = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers"
NEW_VMS = ("vhd-01", "vhd-02", "vhd-03", "vhd-04", "vhd-05", "ph-03")
"""The names tests create VMs under: each has a NIC ``{name}-nic`` waiting in the fleet (a VM PUT needs one)."""
SECRET_URL = (
    f"https://kv-ade-eastus.vault.azure.net/secrets/vhd-bek/{object_version('kv-ade-eastus', 'secrets', 'vhd-bek')}"
)
KEK_URL = f"https://kv-ade-eastus.vault.azure.net/keys/kek/{object_version('kv-ade-eastus', 'keys', 'kek')}"


def fleet(*, vault_enabled: bool = True, vms: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """rg-web with vault kv-ade-eastus holding the VHD's secret and a KEK, imported disks vhd-os-1..3 and the NICs
    of the VMs the tests create (``NEW_VMS``)."""
    spec = fleet_dict(vms or [], vault_enabled=vault_enabled)
    group = spec["subscriptions"][0]["resource_groups"][0]
    vault = group["key_vaults"][0]
    vault["secrets"] = [{"name": "vhd-bek", "tags": {"DiskEncryptionKeyFileName": "LinuxPassPhraseFileName"}}]
    vault["keys"] = [{"name": "kek"}]
    group["disks"] = [
        {"name": f"vhd-os-{i}", "source_uri": f"https://acct.blob.core.windows.net/vhds/os-{i}.vhd"} for i in (1, 2, 3)
    ]
    group["network_interfaces"] = [{"name": f"{name}-nic"} for name in NEW_VMS]
    return spec


def create_request(name: str, disk: str = "vhd-os-1", **kw: Any) -> CreateFromVhdInput:
    return CreateFromVhdInput(
        vm=VmRef(SUB, "rg-web", name),
        os_disk_id=f"{PROVIDERS}/Microsoft.Compute/disks/{disk}",
        secret_url=kw.pop("secret_url", SECRET_URL),
        key_vault_id=VAULT_ID,
        network_interface_id=f"{PROVIDERS}/Microsoft.Network/networkInterfaces/{name}-nic",
        **kw,
    )
