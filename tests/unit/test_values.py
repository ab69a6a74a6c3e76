"""One validator per kind of value (issue 15): a table per kind, good values with what they parse to, bad values
with the message that names the expected format (and the rule, R-ENA-3 for vaults and key URLs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from adeflow.domain import values
from adeflow.domain.fleet import FailureBudget
from adeflow.domain.migration import NicPolicy, PathPolicy
from adeflow.domain.model import BackupPolicy, KeyEncryptionKey, RestartPolicy, VmRef, VolumeType

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-web"
KV = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-ade"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/web-01"
V = "0123456789abcdef0123456789abcdef"
KEK = f"https://kv-ade.vault.azure.net/keys/kek/{V}"
U = values.VaultObjectUrl
IMAGE = f"{RG}/providers/Microsoft.Compute/galleries/g1/images/ubuntu/versions/1.2.3"


def parse_image_offer(value: object) -> str:
    return values.parse_image_part(value, "offer")


SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk5tq1Ptq6a3sOAoVvHKN3Oz0CBrbGJ/zfEKTx6Vmfi ops@example"

GOOD: list[tuple[Callable[[Any], object], object, object]] = [
    (values.parse_subscription_id, SUB, SUB),
    (values.parse_subscription_id, SUB.upper(), SUB.upper()),
    (values.parse_vm_id, VM, VmRef(SUB, "rg-web", "web-01")),
    (values.parse_vm_id, VM.replace("resourceGroups", "resourcegroups") + "/", VmRef(SUB, "rg-web", "web-01")),
    (values.parse_vault_id, KV, KV),
    (values.parse_vault_id, KV + "/", KV),
    (values.parse_kek_url, KEK, U("kv-ade", "keys", "kek", V)),
    (values.parse_kek_url, KEK.upper().replace("HTTPS", "https") + "/", U("kv-ade", "keys", "KEK", V)),
    (values.parse_kek_url, KEK.replace("azure.net", "azure.cn"), U("kv-ade", "keys", "kek", V, "vault.azure.cn")),
    (values.parse_key_url, "https://kv-ade.vault.azure.net/keys/kek", U("kv-ade", "keys", "kek", "")),
    (values.parse_reported_key_url, KEK.replace(".net/", ".net:443/"), U("kv-ade", "keys", "kek", V)),
    (values.parse_duration, "30s", 30.0),
    (values.parse_duration, "1h30m", 5400.0),
    (values.parse_duration, "1.5d", 129600.0),
    (values.parse_duration, 45, 45.0),
    (values.parse_duration, 2.5, 2.5),
    (values.parse_failure_budget, "5%", FailureBudget(fraction=0.05)),
    (values.parse_failure_budget, "100%", FailureBudget(fraction=1.0)),
    (values.parse_failure_budget, 0, FailureBudget(count=0)),
    (values.parse_rollout_name, "eu-web_2026.12", "eu-web_2026.12"),
    (values.parse_volume_type, "DATA", VolumeType.DATA),
    (values.parse_backup_policy, "Azure-Backup", BackupPolicy.AZURE_BACKUP),
    (values.parse_restart_policy, "never", RestartPolicy.NEVER),
    (values.parse_key_encryption_algorithm, "rsa-oaep-256", "RSA-OAEP-256"),
    (values.parse_confirmation, "no-kdump", "no-kdump"),
    (values.parse_cron, "0 2 * * 1", "0 2 * * 1"),
    (values.parse_cron, "*/15 0-6 1,15 * mon", "*/15 0-6 1,15 * mon"),
    (values.parse_cron, "@daily", "@daily"),
    (values.parse_path_policy, "Copy-Disks", PathPolicy.COPY_DISKS),
    (values.parse_nic_policy, "reuse", NicPolicy.REUSE),
    (values.parse_timestamp, "2026-11-07T23:00:00+01:00", datetime(2026, 11, 7, 22, tzinfo=UTC)),
    (values.parse_timestamp, "2026-11-07 22:00z", datetime(2026, 11, 7, 22, tzinfo=UTC)),
    (values.parse_timestamp, datetime(2026, 11, 7, 22, tzinfo=UTC), datetime(2026, 11, 7, 22, tzinfo=UTC)),
    (values.parse_checkpoint_size, "4MiB", 4 * 1024 * 1024),
    (values.parse_checkpoint_size, "2GiB", 2 * 1024**3),
    (values.parse_sas_duration, "4h", 14400),
    (values.parse_sas_duration, 300.5, 301),
    (values.parse_copy_parallelism, 64, 64),
    (values.parse_name_suffix, "-eah", "-eah"),
    (values.parse_vm_name, "db-01-new", "db-01-new"),
    (parse_image_offer, "0001-com-ubuntu-server-jammy", "0001-com-ubuntu-server-jammy"),
    (values.parse_image_version, "22.04.202604010", "22.04.202604010"),
    (values.parse_image_id, IMAGE + "/", IMAGE),
    (values.parse_admin_username, "azureuser", "azureuser"),
    (values.parse_ssh_public_key, SSH, SSH),
]  # fmt: skip


@pytest.mark.parametrize(("parse", "written", "parsed"), GOOD, ids=[f"{p.__name__}-{w}"[:70] for p, w, _ in GOOD])
def test_good_values(parse: Callable[[Any], object], written: object, parsed: object) -> None:
    assert parse(written) == parsed


BAD: list[tuple[Callable[[Any], object], object, str]] = [
    (values.parse_subscription_id, "prod",
     "subscription must be a GUID like 00000000-0000-0000-0000-000000000000; got 'prod'"),
    (values.parse_subscription_id, 42, "expected a subscription id (a GUID); got a number"),
    (values.parse_subscription_id, f" {SUB}", "without spaces around it"),
    (values.parse_vm_id, "web-01", "malformed VM resource id 'web-01': expected /subscriptions/<sub>/resourceGroups/"),
    (values.parse_vm_id, KV, "is a Microsoft.KeyVault/vaults id; expected a VM id ("),
    (values.parse_vm_id, VM.replace(SUB, "12345"), "subscription '12345' in"),
    (values.parse_vm_id, VM.replace("web-01", "web 01"), "names must not contain spaces"),
    (values.parse_vault_id, "kv-ade",
     "malformed Key Vault resource id 'kv-ade': expected /subscriptions/<sub>/resourceGroups/<rg>/providers/"
     "Microsoft.KeyVault/vaults/<name> (R-ENA-3)"),
    (values.parse_vault_id, VM, "is a Microsoft.Compute/virtualMachines id; expected a Key Vault id"),
    (values.parse_vault_id, KV.replace("kv-ade", "kv"), "'kv' in '/subscriptions/"),
    (values.parse_vault_id, KV.replace("kv-ade", "kv--ade"), "is not a Key Vault name"),
    (values.parse_vault_id, "", "expected a Key Vault resource id"),
    (values.parse_kek_url, KEK.rsplit("/", 1)[0],
     "malformed KEK URL 'https://kv-ade.vault.azure.net/keys/kek': no version"),
    (values.parse_kek_url, KEK.replace(".net/", ".net:443/"), "it has a port"),
    (values.parse_kek_url, KEK.replace("https", "http"), "not an https URL"),
    (values.parse_kek_url, KEK.replace("vault.azure.net", "example.com"), "not a Key Vault host"),
    (values.parse_kek_url, KEK.replace("kv-ade", "kv"), "'kv' is not a Key Vault name"),
    (values.parse_kek_url, KEK.replace("/keys/", "/secrets/"), "not a key URL (.../keys/<name>/<version>)"),
    (values.parse_kek_url, KEK.replace(V, "0123"), "'0123' is not a Key Vault version (32 hex digits)"),
    (values.parse_kek_url, KEK + "?api-version=7.4", "query or fragment"),
    (values.parse_kek_url, KEK.replace("https://", "https://user@"), "not a Key Vault host"),
    (values.parse_kek_url, "kek", "malformed KEK URL 'kek'"),
    (values.parse_kek_url, f" {KEK}", "without spaces around it"),
    (values.parse_key_url, KEK.replace(V, "latest"), "malformed key URL"),
    (values.parse_reported_key_url, KEK.replace(".net/", ".net:8443/"), "it has a port"),
    (values.parse_duration, "5x", "expected a duration like 30s, 5m, 2h, 1d (or seconds as a number); got '5x'"),
    (values.parse_duration, "1h 30m", "got '1h 30m'"),
    (values.parse_duration, "5M", "got '5M'"),
    (values.parse_duration, 0, "must be positive; got 0"),
    (values.parse_duration, "0s", "must be positive; got 0s"),
    (values.parse_duration, float("inf"), "must be positive"),
    (values.parse_duration, True, "got true/false"),
    (values.parse_failure_budget, "150%", "a percentage must be at most 100%; got '150%'"),
    (values.parse_failure_budget, "5 %", "expected a count (3) or a percentage (5%); got '5 %'"),
    (values.parse_failure_budget, "007%", "got '007%'"),
    (values.parse_failure_budget, 0.05, "expected a count (3) or a percentage (5%); got a number"),
    (values.parse_failure_budget, -1, "must be at least 0; got -1"),
    (values.parse_rollout_name, "eu web/2026", "use letters, digits, '.', '_' and '-' (at most 63"),
    (values.parse_rollout_name, "x" * 64, "at most 63"),
    (values.parse_rollout_name, 2026, "expected a rollout name; got a number"),
    (values.parse_volume_type, "Dat", 'must be one of OS, Data, All; did you mean "Data"? got \'Dat\''),
    (values.parse_volume_type, " Data", "expected one of OS, Data, All without spaces around it; got ' Data'"),
    (values.parse_backup_policy, "snapshots", 'did you mean "snapshot"?'),
    (values.parse_restart_policy, "sometimes", "must be one of auto, ask, never; got 'sometimes'"),
    (values.parse_key_encryption_algorithm, "RSA", "must be one of RSA-OAEP, RSA-OAEP-256, RSA1_5"),
    (values.parse_confirmation, "no-kdumps", 'unknown confirmation "no-kdumps"; did you mean "no-kdump"? known: '),
    (values.parse_confirmation, 7, "expected a confirmation name; got a number; known: no-nested-mounts"),
    (values.parse_cron, "61 2 * * *", "minute field '61' is not valid (numbers 0-59, * , - /)"),
    (values.parse_cron, "0 2 * *", "a cron expression has 5 fields"),
    (values.parse_cron, "@Daily", "unknown cron alias '@Daily'; did you mean \"@daily\"?"),
    (values.parse_path_policy, "copy-disk", 'must be one of auto, copy-disks, rebuild; did you mean "copy-disks"?'),
    (values.parse_nic_policy, "keep", "must be one of new, reuse; got 'keep'"),
    (values.parse_timestamp, "2026-11-07T22:00:00", "give the time zone (Z or +01:00)"),
    (values.parse_timestamp, datetime(2026, 11, 7, 22), "give the time zone (Z or +01:00)"),
    (values.parse_timestamp, date(2026, 11, 7), "give a time and its zone, not only a date"),
    (values.parse_timestamp, "tomorrow", "expected a time with its zone, e.g. 2026-11-07T22:00:00Z"),
    (values.parse_timestamp, "2026-02-30T22:00:00Z", "is not a valid time"),
    (values.parse_checkpoint_size, "1MiB", "must be at least 4MiB; got '1MiB'"),
    (values.parse_checkpoint_size, "256MB", "expected a size in MiB or GiB"),
    (values.parse_sas_duration, "4m", "must be at least 5m (300 s)"),
    (values.parse_copy_parallelism, 65, "must be between 1 and 64; got 65"),
    (values.parse_name_suffix, "-eah.", "not ending with '.' (M-1)"),
    (values.parse_name_suffix, "", "expected a name suffix like -eah; got an empty string"),
    (values.parse_vm_name, "-web", "a Linux VM name has 1-64 letters"),
    (values.parse_vm_name, "w" * 65, "a Linux VM name has 1-64 letters"),
    (parse_image_offer, "TODO", "still TODO: name the image's offer (M-4), or give image.id instead"),
    (parse_image_offer, "todo list", "an image offer has letters, digits"),
    (values.parse_image_version, "newest", "an image version is latest or three numbers"),
    (values.parse_image_id, VM, "expected an image resource id"),
    (values.parse_image_id, "TODO: the golden image", "still TODO: give the image's resource id"),
    (values.parse_admin_username, "root", "Azure does not allow 'root' as the admin user name"),
    (values.parse_admin_username, "1ops", "an admin user name has 1-64 letters"),
    (values.parse_ssh_public_key, "ssh-dss AAAAB3NzaC1kc3M=", "expected an OpenSSH public key line"),
    (values.parse_ssh_public_key, "TODO", "still TODO: give the admin user's SSH public key (M-4)"),
]  # fmt: skip


@pytest.mark.parametrize(("parse", "written", "message"), BAD, ids=[f"{p.__name__}-{w}"[:70] for p, w, _ in BAD])
def test_bad_values_name_the_expected_format(parse: Callable[[Any], object], written: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse(written)
    assert message in str(caught.value)


def test_vault_and_key_url_messages_cite_r_ena_3() -> None:
    for parse, written in [
        (values.parse_vault_id, "kv"),
        (values.parse_kek_url, "kek"),
        (values.parse_key_url, "kek"),
    ]:
        with pytest.raises(ValueError, match=r"\(R-ENA-3\)$"):
            parse(written)


def test_a_kek_is_a_key_url_in_the_vault_that_its_vault_id_names() -> None:
    assert values.parse_kek(KEK + "/", KV) == KeyEncryptionKey(KEK, KV)
    other = KV.replace("kv-ade", "kv-keys")
    with pytest.raises(ValueError, match=r"the key is in vault 'kv-ade' but the KEK vault id names vault 'kv-keys'"):
        values.parse_kek(KEK, other)


def test_enum_choices_compare_without_case_unless_told() -> None:
    assert values.parse_choice("SKIP", ["skip", "buffer-one"]) == "skip"
    with pytest.raises(ValueError, match="must be one of skip, buffer-one"):
        values.parse_choice("SKIP", ["skip", "buffer-one"], case_sensitive=True)


def test_r_lim_4c_a_uniform_scale_set_instance_is_not_taken_as_a_vm() -> None:
    instance = (
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ss/providers/Microsoft.Compute"
        "/virtualMachineScaleSets/ss-uni/virtualMachines/3"
    )
    with pytest.raises(ValueError, match=r"instance 3 of Uniform scale set 'ss-uni'.*\(R-LIM-4c\)$"):
        values.parse_vm_id(instance)
