"""Everything ARM can confirm before the PUT: the input alone (:func:`check_request`), then the facts read.

A bad reference yields a VM that never boots, so each is refused with its rule (R-VHD-1, R-PRE-*, R-ENA-3, R-LIM-*).
"""

from __future__ import annotations

from adeflow.domain.model import CreateFromVhdInput, KeyVaultFacts, KeyVaultLookup, Refusal
from adeflow.domain.resource_ids import ResourceId, parse_resource_id
from adeflow.domain.rules.eligibility import PLATFORM_KEY, PREMIUM_V2_SKU, ULTRA_SKU, normalise_region, sku_is
from adeflow.domain.values import parse_vault_object_url
from adeflow.domain.vhd.facts import VhdCreateFacts, key_refs
from adeflow.domain.vocabulary import Reason

_RSA = ("RSA", "RSA-HSM")

PASSPHRASE_TAG = "DiskEncryptionKeyFileName"


def _resource(resource_id: str, provider_type: str) -> ResourceId:
    parsed = parse_resource_id(resource_id)
    if parsed.provider_type.lower() != provider_type.lower():
        raise ValueError(f"{resource_id!r} is not a {provider_type} resource id")
    return parsed


def check_request(request: CreateFromVhdInput) -> list[Refusal]:
    """What the input alone shows (no I/O): every id parses, every URL is versioned and in the named vault."""
    refusals: list[Refusal] = []
    vault: ResourceId | None = None
    try:
        vault = _resource(request.key_vault_id, "Microsoft.KeyVault/vaults")
    except ValueError as exc:
        refusals.append(
            Refusal(
                "R-PRE-2",
                "vault-id-invalid",
                f"the disk-encryption vault id is not a Key Vault resource id: {exc}.",
                "Give /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>.",
            )
        )
    if vault is not None and vault.subscription_id.lower() != request.vm.subscription_id.lower():
        refusals.append(
            Refusal(
                "R-PRE-2",
                "vault-subscription-mismatch",
                f"Key Vault '{vault.name}' is in subscription {vault.subscription_id}, "
                f"the VM in {request.vm.subscription_id}.",
                "Use a Key Vault in the VM's subscription.",
            )
        )
    try:
        secret = parse_vault_object_url(request.secret_url, "secrets")
    except ValueError as exc:
        refusals.append(
            Refusal(
                "R-VHD-1",
                "secret-url-invalid",
                f"the disk-encryption key URL is not usable: {exc}.",
                "Give the versioned secret URL, https://<vault>.vault.azure.net/secrets/<name>/<version> "
                "(az keyvault secret show --vault-name <vault> --name <name> --query id).",
            )
        )
    else:
        if vault is not None and secret.vault != vault.name.lower():
            refusals.append(
                Refusal(
                    "R-VHD-1",
                    "secret-in-other-vault",
                    f"the secret URL points into vault '{secret.vault}', the vault id names '{vault.name}'.",
                    "Give the resource id of the vault that holds the secret.",
                )
            )
    if request.kek is not None:
        refusals += check_kek_input(request.kek.key_url, request.kek.vault_id)
    refusals += _check_ids(request)
    return refusals


def check_kek_input(key_url: str, vault_id: str) -> list[Refusal]:
    refusals: list[Refusal] = []
    try:
        key = parse_vault_object_url(key_url, "keys")
    except ValueError as exc:
        return [
            Refusal(
                "R-ENA-3",
                "kek-url-invalid",
                f"the key-encryption key URL is not usable: {exc}.",
                "Give the versioned key URL, https://<vault>.vault.azure.net/keys/<name>/<version>.",
            )
        ]
    try:
        kek_vault = _resource(vault_id, "Microsoft.KeyVault/vaults")
    except ValueError as exc:
        return [
            Refusal(
                "R-ENA-3",
                "kek-vault-id-invalid",
                f"the KEK vault id is not a Key Vault resource id: {exc}.",
                "Give the resource id of the vault that holds the KEK.",
            )
        ]
    if key.vault != kek_vault.name.lower():
        refusals.append(
            Refusal(
                "R-ENA-3",
                "kek-in-other-vault",
                f"the KEK URL points into vault '{key.vault}', the KEK vault id names '{kek_vault.name}'.",
                "Give the resource id of the vault that holds the KEK.",
            )
        )
    return refusals


def _check_ids(request: CreateFromVhdInput) -> list[Refusal]:
    refusals: list[Refusal] = []
    try:
        disk = _resource(request.os_disk_id, "Microsoft.Compute/disks")
    except ValueError as exc:
        refusals.append(
            Refusal(
                "R-VHD-1",
                "os-disk-id-invalid",
                f"the OS disk is not a managed disk resource id: {exc}.",
                "Import the encrypted VHD as a managed disk (az disk create --source <vhd-uri> --os-type Linux) "
                "and give its resource id.",
            )
        )
    else:
        if disk.subscription_id.lower() != request.vm.subscription_id.lower():
            refusals.append(
                Refusal(
                    "R-VHD-1",
                    "os-disk-other-subscription",
                    f"disk '{disk.name}' is in subscription {disk.subscription_id}, the VM in "
                    f"{request.vm.subscription_id}; a VM can attach disks of its own subscription only.",
                    "Import the VHD in the VM's subscription.",
                )
            )
    try:
        _resource(request.network_interface_id, "Microsoft.Network/networkInterfaces")
    except ValueError as exc:
        refusals.append(
            Refusal(
                "R-VHD-1",
                "nic-id-invalid",
                f"the network interface is not a NIC resource id: {exc}.",
                "Create a NIC in the VM's region (az network nic create) and give its resource id.",
            )
        )
    return refusals


def vm_location(request: CreateFromVhdInput, facts: VhdCreateFacts) -> str:
    """The requested region, else the disk's: a disk can be attached in its own region only."""
    if request.location:
        return request.location
    return facts.disk.location if facts.disk else ""


def check_facts(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[Refusal]:
    """What ARM shows: vault (R-PRE-2), secret and disk (R-VHD-1), KEK (R-ENA-3), disk limits, the VM name."""
    refusals: list[Refusal] = []
    location = vm_location(request, facts)
    refusals += _check_vault(request, facts.vault, location)
    refusals += _check_secret(request, facts)
    if request.kek is not None:
        refusals += _check_kek(request, facts)
    refusals += _check_disk(request, facts, location)
    existing = facts.existing_vm
    if existing.exists and not key_refs(request).same_as(existing.refs):
        refusals.append(
            Refusal(
                "R-VHD-1",
                Reason.VM_NAME_TAKEN,
                f"a VM named '{request.vm.name}' already exists in {request.vm.resource_group} and does not attach "
                "this disk with these key references.",
                "Choose another VM name, or delete that VM first if it is a failed earlier attempt.",
            )
        )
    return refusals


def _check_vault(request: CreateFromVhdInput, lookup: KeyVaultLookup, location: str) -> list[Refusal]:
    vault: KeyVaultFacts | None = lookup.vault
    if vault is None:
        return [
            Refusal(
                "R-PRE-2",
                "vault-not-found",
                f"Key Vault {request.key_vault_id} could not be read: {lookup.problem}",
                "Check the Key Vault resource id and that adeflow's identity may read it.",
            )
        ]
    refusals: list[Refusal] = []
    if not vault.enabled_for_disk_encryption:
        refusals.append(
            Refusal(
                "R-PRE-2",
                "vault-not-enabled-for-disk-encryption",
                f"Key Vault '{vault.name}' is not enabled for disk encryption; the platform could not read the "
                "disk-encryption key at boot.",
                f"Run: az keyvault update --name {vault.name} --enabled-for-disk-encryption true",
            )
        )
    if location and normalise_region(vault.location) != normalise_region(location):
        refusals.append(
            Refusal(
                "R-PRE-2",
                "vault-region-mismatch",
                f"Key Vault '{vault.name}' is in {vault.location}, the VM would be in {location}.",
                f"Keep the disk-encryption key in a Key Vault in {location}.",
            )
        )
    return refusals


def _check_secret(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[Refusal]:
    if facts.vault.vault is None:
        return []  # reported as R-PRE-2 already
    secret = facts.secret
    if secret is None:
        return [
            Refusal(
                "R-VHD-1",
                "secret-not-found",
                f"the disk-encryption key {request.secret_url} was not found ({facts.secret_problem}).",
                "Upload the VHD's disk-encryption secret to the vault first, and give its versioned URL.",
            )
        ]
    if not secret.enabled:
        return [
            Refusal(
                "R-VHD-1",
                "secret-disabled",
                f"the secret '{secret.name}' is disabled; the platform could not read it at boot.",
                f"Enable it: az keyvault secret set-attributes --id {request.secret_url} --enabled true",
            )
        ]
    return []


def _check_kek(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[Refusal]:
    if request.kek is None:  # the caller checks only with a KEK
        return []
    lookup = facts.kek_vault
    if lookup is not None and lookup.vault is None:
        return [
            Refusal(
                "R-ENA-3",
                "kek-vault-not-found",
                f"the KEK vault {request.kek.vault_id} could not be read: {lookup.problem}",
                "Check the KEK vault resource id and that adeflow's identity may read it.",
            )
        ]
    key = facts.key
    if key is None:
        return [
            Refusal(
                "R-ENA-3",
                "kek-not-found",
                f"the key-encryption key {request.kek.key_url} was not found ({facts.key_problem}).",
                "Give the versioned URL of the key that wrapped the disk-encryption secret.",
            )
        ]
    if key.kty not in _RSA:
        return [
            Refusal(
                "R-ENA-3",
                "kek-not-rsa",
                f"the key-encryption key '{key.name}' is of type {key.kty}; ADE accepts RSA keys only.",
                "Wrap the disk-encryption secret with an RSA key.",
            )
        ]
    if not key.enabled:
        return [
            Refusal(
                "R-ENA-3",
                "kek-disabled",
                f"the key-encryption key '{key.name}' is disabled; the secret could not be unwrapped at boot.",
                f"Enable it: az keyvault key set-attributes --id {request.kek.key_url} --enabled true",
            )
        ]
    return []


def _check_disk(request: CreateFromVhdInput, facts: VhdCreateFacts, location: str) -> list[Refusal]:
    disk = facts.disk
    if disk is None:
        return [
            Refusal(
                "R-VHD-1",
                "os-disk-not-found",
                f"the OS disk {request.os_disk_id} was not found ({facts.disk_problem}).",
                "Import the encrypted VHD as a managed disk first: az disk create --source <vhd-uri> --os-type Linux.",
            )
        ]
    refusals: list[Refusal] = []
    if disk.os_type.lower() != "linux":
        refusals.append(
            Refusal(
                "R-PRE-1",
                "not-linux",
                f"disk '{disk.name}' has OS type {disk.os_type or 'unset'}; adeflow handles Linux VMs only.",
                "Import the VHD with --os-type Linux if it holds Linux.",
            )
        )
    if disk.managed_by and disk.managed_by.lower() != request.vm.resource_id.lower():
        refusals.append(
            Refusal(
                "R-VHD-1",
                "os-disk-attached",
                f"disk '{disk.name}' is attached to {disk.managed_by}.",
                "Attach a disk that no VM uses (import the VHD again for a second VM).",
            )
        )
    if location and normalise_region(disk.location) != normalise_region(location):
        refusals.append(
            Refusal(
                "R-VHD-1",
                "os-disk-other-region",
                f"disk '{disk.name}' is in {disk.location}, the VM would be in {location}.",
                f"Import the VHD in {location}, or create the VM in {disk.location}.",
            )
        )
    if sku_is(disk.sku, ULTRA_SKU) or sku_is(disk.sku, PREMIUM_V2_SKU):
        rule = "R-LIM-4w" if sku_is(disk.sku, ULTRA_SKU) else "R-LIM-4x"
        refusals.append(
            Refusal(rule, "unsupported-disk-sku", f"disk '{disk.name}' is {disk.sku}.", "Import as Premium_LRS.")
        )
    if disk.disk_encryption_set_id or (disk.encryption_type and disk.encryption_type != PLATFORM_KEY):
        refusals.append(
            Refusal(
                "R-LIM-4t",
                "disk-sse-cmk",
                f"disk '{disk.name}' is encrypted with a customer-managed key ({disk.encryption_type}).",
                "Import the VHD with platform-managed keys; ADE and SSE + CMK do not mix.",
            )
        )
    return refusals


def notes(request: CreateFromVhdInput, facts: VhdCreateFacts) -> list[str]:
    """What ARM cannot confirm but the operator should: only the current secret version is visible there."""
    found: list[str] = []
    secret = facts.secret
    if secret is None:
        return found
    try:
        wanted = parse_vault_object_url(request.secret_url, "secrets")
        current = parse_vault_object_url(secret.current_url, "secrets")
    except ValueError:
        return found
    if wanted.version != current.version:
        found.append(
            f"secret '{secret.name}' version {wanted.version} is not its current version {current.version}; "
            "ARM cannot list older versions, so make sure it is the one that matches this VHD."
        )
    if PASSPHRASE_TAG.lower() not in {k.lower() for k in secret.tags}:
        found.append(
            f"secret '{secret.name}' has no {PASSPHRASE_TAG} tag; ADE's own secrets carry it "
            "(LinuxPassPhraseFileName), check the VHD was prepared with the ADE steps."
        )
    return found
