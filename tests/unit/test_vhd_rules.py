"""R-VHD-1 (a VM from a customer-encrypted VHD): input checks, ARM-fact checks, the PUT body, verification.

Each test names the rule it guards; the rule ids come from docs/ade-linux-rules.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from adeflow.domain import values, vhd
from adeflow.domain.model import CreateFromVhdInput, KeyEncryptionKey, KeyVaultFacts, KeyVaultLookup, Refusal, VmRef
from adeflow.domain.vhd import CreatedVmFacts, ImportedDiskFacts, KeyFacts, SecretFacts, VhdCreateFacts, VhdKeyRefs

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers"
VAULT_ID = f"{RG}/Microsoft.KeyVault/vaults/kv-ade-eastus"
KEK_VAULT_ID = f"{RG}/Microsoft.KeyVault/vaults/kv-kek-eastus"
DISK_ID = f"{RG}/Microsoft.Compute/disks/vhd-os"
NIC_ID = f"{RG}/Microsoft.Network/networkInterfaces/vhd-01-nic"
VERSION = "514ceb769c984379a7e0230bddaaaaaa"
SECRET_URL = f"https://kv-ade-eastus.vault.azure.net/secrets/vhd-bek/{VERSION}"
KEK_URL = f"https://kv-kek-eastus.vault.azure.net/keys/kek/{'b' * 32}"


def request(**kw: Any) -> CreateFromVhdInput:
    fields: dict[str, Any] = {
        "vm": VmRef(SUB, "rg-web", "vhd-01"),
        "os_disk_id": DISK_ID,
        "secret_url": SECRET_URL,
        "key_vault_id": VAULT_ID,
        "network_interface_id": NIC_ID,
    }
    fields.update(kw)
    return CreateFromVhdInput(**fields)


def vault(**kw: Any) -> KeyVaultLookup:
    fields: dict[str, Any] = {
        "resource_id": VAULT_ID,
        "name": "kv-ade-eastus",
        "subscription_id": SUB,
        "location": "eastus",
        "enabled_for_disk_encryption": True,
        "vault_uri": "https://kv-ade-eastus.vault.azure.net/",
    }
    fields.update(kw)
    return KeyVaultLookup(KeyVaultFacts(**fields))


def facts(**kw: Any) -> VhdCreateFacts:
    fields: dict[str, Any] = {
        "vault": vault(),
        "existing_vm": CreatedVmFacts(exists=False),
        "secret": SecretFacts("vhd-bek", True, SECRET_URL, {"DiskEncryptionKeyFileName": "LinuxPassPhraseFileName"}),
        "disk": ImportedDiskFacts(
            DISK_ID, "vhd-os", "eastus", "Linux", "Premium_LRS", "EncryptionAtRestWithPlatformKey"
        ),
    }
    fields.update(kw)
    return VhdCreateFacts(**fields)


def ids(refusals: list[Refusal]) -> list[tuple[str, str]]:
    return [(r.rule, r.reason) for r in refusals]


# ---------------------------------------------------------------------------------------------- the request


def test_r_vhd_1_body_attaches_the_disk_with_its_secret_url_and_vault() -> None:
    body = vhd.build_vm_body(request(), "eastus")
    os_disk = body["properties"]["storageProfile"]["osDisk"]
    assert body["location"] == "eastus"
    assert os_disk["createOption"] == "Attach" and os_disk["osType"] == "Linux" and os_disk["name"] == "vhd-os"
    assert os_disk["managedDisk"] == {"id": DISK_ID}
    assert os_disk["encryptionSettings"] == {
        "enabled": True,
        "diskEncryptionKey": {"secretUrl": SECRET_URL, "sourceVault": {"id": VAULT_ID}},
    }
    # Attach: the disk brings its OS, so no image and no OS profile (docs/arm-reference.md §d.1).
    assert "osProfile" not in body["properties"] and "imageReference" not in body["properties"]["storageProfile"]
    assert body["properties"]["networkProfile"]["networkInterfaces"][0]["id"] == NIC_ID


def test_r_vhd_1_body_carries_the_kek_and_its_vault_when_given() -> None:
    body = vhd.build_vm_body(request(kek=KeyEncryptionKey(KEK_URL, KEK_VAULT_ID)), "eastus")
    settings = body["properties"]["storageProfile"]["osDisk"]["encryptionSettings"]
    assert settings["keyEncryptionKey"] == {"keyUrl": KEK_URL, "sourceVault": {"id": KEK_VAULT_ID}}


def test_r_vhd_1_a_valid_request_passes_the_input_checks() -> None:
    assert vhd.check_request(request()) == []
    assert vhd.check_request(request(kek=KeyEncryptionKey(KEK_URL, KEK_VAULT_ID))) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://kv-ade-eastus.vault.azure.net/secrets/vhd-bek",  # not versioned
        f"http://kv-ade-eastus.vault.azure.net/secrets/vhd-bek/{VERSION}",  # not https
        f"https://kv-ade-eastus.vault.azure.net:443/secrets/vhd-bek/{VERSION}",  # a port ([D15])
        f"https://kv-ade-eastus.vault.azure.net/keys/vhd-bek/{VERSION}",  # a key, not a secret
        "https://kv-ade-eastus.vault.azure.net/secrets/vhd-bek/latest",  # not a version
        f"https://kv-ade-eastus.example.com/secrets/vhd-bek/{VERSION}",  # not a vault host
        f"https://kv-ade-eastus.vault.azure.net/secrets/vhd-bek/{VERSION}?x=1",
        "not a url",
    ],
)
def test_r_vhd_1_secret_url_must_be_a_versioned_vault_secret_url(url: str) -> None:
    assert ids(vhd.check_request(request(secret_url=url))) == [("R-VHD-1", "secret-url-invalid")]


@pytest.mark.parametrize("suffix", values.VAULT_DNS_SUFFIXES)
def test_r_vhd_1_sovereign_cloud_vault_hosts_are_accepted(suffix: str) -> None:
    url = f"https://KV-ADE-EASTUS.{suffix}/secrets/vhd-bek/{VERSION.upper()}/"
    parsed = values.parse_vault_object_url(url, "secrets")
    assert (parsed.vault, parsed.name, parsed.version) == ("kv-ade-eastus", "vhd-bek", VERSION)


def test_r_vhd_1_secret_url_must_point_into_the_named_vault() -> None:
    other = f"https://kv-other.vault.azure.net/secrets/vhd-bek/{VERSION}"
    refusals = vhd.check_request(request(secret_url=other))
    assert ids(refusals) == [("R-VHD-1", "secret-in-other-vault")]
    assert "kv-other" in refusals[0].message and refusals[0].fix


def test_r_ena_3_kek_url_must_be_versioned_and_in_the_named_kek_vault() -> None:
    unversioned = KeyEncryptionKey("https://kv-kek-eastus.vault.azure.net/keys/kek", KEK_VAULT_ID)
    assert ids(vhd.check_request(request(kek=unversioned))) == [("R-ENA-3", "kek-url-invalid")]
    elsewhere = KeyEncryptionKey(KEK_URL, VAULT_ID)
    assert ids(vhd.check_request(request(kek=elsewhere))) == [("R-ENA-3", "kek-in-other-vault")]
    bad_vault = KeyEncryptionKey(KEK_URL, "kv-kek-eastus")
    assert ids(vhd.check_request(request(kek=bad_vault))) == [("R-ENA-3", "kek-vault-id-invalid")]


def test_r_pre_2_vault_id_must_name_a_key_vault_of_the_vm_subscription() -> None:
    assert ids(vhd.check_request(request(key_vault_id=DISK_ID))) == [("R-PRE-2", "vault-id-invalid")]
    other_sub = VAULT_ID.replace(SUB, "00000000-0000-0000-0000-000000000009")
    assert ids(vhd.check_request(request(key_vault_id=other_sub))) == [("R-PRE-2", "vault-subscription-mismatch")]


def test_r_vhd_1_os_disk_must_be_a_managed_disk_of_the_vm_subscription_and_the_nic_a_nic() -> None:
    blob = "https://acct.blob.core.windows.net/vhds/os.vhd"  # unmanaged disks are retired: import first
    assert ids(vhd.check_request(request(os_disk_id=blob))) == [("R-VHD-1", "os-disk-id-invalid")]
    other_sub = DISK_ID.replace(SUB, "00000000-0000-0000-0000-000000000009")
    assert ids(vhd.check_request(request(os_disk_id=other_sub))) == [("R-VHD-1", "os-disk-other-subscription")]
    assert ids(vhd.check_request(request(network_interface_id=DISK_ID))) == [("R-VHD-1", "nic-id-invalid")]


# ---------------------------------------------------------------------------------------------- what ARM shows


def test_r_vhd_1_all_references_present_pass_the_fact_checks() -> None:
    assert vhd.check_facts(request(), facts()) == []
    assert vhd.vm_location(request(), facts()) == "eastus"
    assert vhd.notes(request(), facts()) == []


def test_r_pre_2_vault_missing_not_enabled_or_in_another_region_is_refused() -> None:
    missing = vhd.check_facts(request(), facts(vault=KeyVaultLookup(None, "ARM answered 404 ResourceNotFound")))
    assert ids(missing) == [("R-PRE-2", "vault-not-found")]
    disabled = vhd.check_facts(request(), facts(vault=vault(enabled_for_disk_encryption=False)))
    assert ids(disabled) == [("R-PRE-2", "vault-not-enabled-for-disk-encryption")]
    assert "az keyvault update --name kv-ade-eastus --enabled-for-disk-encryption true" in disabled[0].fix
    west = vhd.check_facts(request(), facts(vault=vault(location="westus2")))
    assert ids(west) == [("R-PRE-2", "vault-region-mismatch")]


def test_r_vhd_1_missing_or_disabled_secret_is_refused() -> None:
    missing = vhd.check_facts(request(), facts(secret=None, secret_problem="ARM answered 404 ResourceNotFound"))
    assert ids(missing) == [("R-VHD-1", "secret-not-found")]
    assert "404" in missing[0].message
    disabled = vhd.check_facts(request(), facts(secret=SecretFacts("vhd-bek", False, SECRET_URL)))
    assert ids(disabled) == [("R-VHD-1", "secret-disabled")]


def test_r_ena_3_kek_missing_not_rsa_or_disabled_is_refused() -> None:
    req = request(kek=KeyEncryptionKey(KEK_URL, KEK_VAULT_ID))
    ok = facts(kek_vault=vault(), key=KeyFacts("kek", "b" * 32, "RSA", True))
    assert vhd.check_facts(req, ok) == []
    assert ids(vhd.check_facts(req, replace(ok, key=None, key_problem="404"))) == [("R-ENA-3", "kek-not-found")]
    ec = replace(ok, key=KeyFacts("kek", "b" * 32, "EC", True))
    assert ids(vhd.check_facts(req, ec)) == [("R-ENA-3", "kek-not-rsa")]
    off = replace(ok, key=KeyFacts("kek", "b" * 32, "RSA-HSM", False))
    assert ids(vhd.check_facts(req, off)) == [("R-ENA-3", "kek-disabled")]
    gone = replace(ok, kek_vault=KeyVaultLookup(None, "403"))
    assert ids(vhd.check_facts(req, gone)) == [("R-ENA-3", "kek-vault-not-found")]


def test_r_vhd_1_disk_missing_attached_elsewhere_or_in_another_region_is_refused() -> None:
    disk = facts().disk
    assert disk is not None
    assert ids(vhd.check_facts(request(), facts(disk=None, disk_problem="404"))) == [("R-VHD-1", "os-disk-not-found")]
    attached = replace(disk, managed_by=f"{RG}/Microsoft.Compute/virtualMachines/someone-else")
    assert ids(vhd.check_facts(request(), facts(disk=attached))) == [("R-VHD-1", "os-disk-attached")]
    west = vhd.check_facts(request(location="westus2"), facts(vault=vault(location="westus2")))
    assert ids(west) == [("R-VHD-1", "os-disk-other-region")]


def test_disk_limits_r_pre_1_r_lim_4w_4x_4t_apply_to_the_imported_disk() -> None:
    disk = facts().disk
    assert disk is not None
    assert ids(vhd.check_facts(request(), facts(disk=replace(disk, os_type="Windows")))) == [("R-PRE-1", "not-linux")]
    ultra = replace(disk, sku="UltraSSD_LRS")
    assert ids(vhd.check_facts(request(), facts(disk=ultra))) == [("R-LIM-4w", "unsupported-disk-sku")]
    v2 = replace(disk, sku="PremiumV2_LRS")
    assert ids(vhd.check_facts(request(), facts(disk=v2))) == [("R-LIM-4x", "unsupported-disk-sku")]
    cmk = replace(disk, encryption_type="EncryptionAtRestWithCustomerKey", disk_encryption_set_id="/des")
    assert ids(vhd.check_facts(request(), facts(disk=cmk))) == [("R-LIM-4t", "disk-sse-cmk")]


def test_r_vhd_1_a_vm_of_that_name_is_ours_only_with_the_same_disk_and_references() -> None:
    req = request()
    ours_refs = VhdKeyRefs(DISK_ID.upper(), SECRET_URL + "/", VAULT_ID.lower())
    ours = CreatedVmFacts(exists=True, location="eastus", provisioning_state="Creating", refs=ours_refs)
    disk = facts().disk
    assert disk is not None
    attached_to_ours = replace(disk, managed_by=req.vm.resource_id)
    assert vhd.check_facts(req, facts(existing_vm=ours, disk=attached_to_ours)) == []

    other_secret = replace(ours_refs, secret_url=f"https://kv-ade-eastus.vault.azure.net/secrets/x/{'c' * 32}")
    taken = vhd.check_facts(req, facts(existing_vm=replace(ours, refs=other_secret), disk=attached_to_ours))
    assert ids(taken) == [("R-VHD-1", "vm-name-taken")]
    unencrypted = vhd.check_facts(req, facts(existing_vm=CreatedVmFacts(exists=True, refs=None)))
    assert ids(unencrypted) == [("R-VHD-1", "vm-name-taken")]


def test_r_vhd_1_notes_say_what_arm_cannot_confirm() -> None:
    older = SecretFacts("vhd-bek", True, SECRET_URL.replace(VERSION, "d" * 32), {})
    found = vhd.notes(request(), facts(secret=older))
    assert len(found) == 2
    assert "not its current version" in found[0] and "DiskEncryptionKeyFileName" in found[1]


# ---------------------------------------------------------------------------------------------- verification


def created_vm(**kw: Any) -> dict[str, Any]:
    """A VirtualMachines_Get body (with instanceView) as the SDK's ``as_dict()`` returns it."""
    settings = {
        "diskEncryptionKey": {"secretUrl": SECRET_URL, "sourceVault": {"id": VAULT_ID}},
        "enabled": True,
    }
    view_disk: dict[str, Any] = {
        "name": "vhd-os",
        "encryptionSettings": [settings],
        "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "EncryptionState/encrypted"}],
    }
    view_disk.update(kw.pop("view_disk", {}))
    os_disk = {
        "name": "vhd-os",
        "createOption": "Attach",
        "managedDisk": {"id": DISK_ID},
        "encryptionSettings": settings,
    }
    os_disk.update(kw.pop("os_disk", {}))
    return {
        "location": "eastus",
        "properties": {
            "provisioningState": kw.pop("state", "Succeeded"),
            "storageProfile": {"osDisk": os_disk},
            "instanceView": {"disks": [view_disk]},
        },
    }


def test_r_vhd_1_verified_when_model_and_instance_view_show_the_disk_encrypted_with_our_secret() -> None:
    seen = vhd.parse_created_vm(created_vm())
    assert seen.refs is not None and seen.refs.same_as(vhd.key_refs(request()))
    assert seen.instance_view_encrypted and seen.instance_view_secret_url == SECRET_URL
    verdict = vhd.verify_created(request(), seen)
    assert verdict.ok and SECRET_URL in verdict.message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (created_vm(state="Failed"), "provisioning state is Failed"),
        (created_vm(os_disk={"encryptionSettings": {"enabled": False}}), "VM model"),
        (created_vm(view_disk={"statuses": [{"code": "EncryptionState/notEncrypted"}]}), "instance view"),
        (
            created_vm(view_disk={"encryptionSettings": [{"diskEncryptionKey": {"secretUrl": "https://x"}}]}),
            "another disk-encryption key",
        ),
    ],
)
def test_r_vhd_1_not_verified_when_any_part_disagrees(body: dict[str, Any], words: str) -> None:
    verdict = vhd.verify_created(request(), vhd.parse_created_vm(body))
    assert not verdict.ok and words in verdict.message
    assert not vhd.verify_created(request(), CreatedVmFacts(exists=False)).ok


# ---------------------------------------------------------------------------------------------- command line


def test_r_vhd_1_cli_refuses_bad_references_with_exit_2_before_starting_anything() -> None:
    from click.testing import CliRunner

    from adeflow.cli.vm import vm as vm_group

    args = ["create-from-vhd", f"{SUB}/rg-web/vhd-01", "--os-disk-id", DISK_ID, "--key-vault-id", VAULT_ID]
    args += ["--nic-id", NIC_ID, "--secret-url", SECRET_URL.rsplit("/", 1)[0]]
    result = CliRunner().invoke(vm_group, args)
    assert result.exit_code == 2
    assert "R-VHD-1 (secret-url-invalid)" in result.output and "Fix:" in result.output
    kek_vault_only = CliRunner().invoke(vm_group, [*args[:-2], "--secret-url", SECRET_URL, "--kek-vault-id", VAULT_ID])
    assert kek_vault_only.exit_code == 2 and "--kek-url" in kek_vault_only.output
