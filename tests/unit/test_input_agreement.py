"""Input validation agrees with itself (issue 15): the loaders and the JSON Schemas reject the same documents, and
the four places that read a KEK URL (manifest, campaign file, campaign plan, ``adeflow vm encrypt``) give the same
verdict on the same URL, all through :mod:`adeflow.domain.values`."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from adeflow.cli.main import cli
from adeflow.domain.campaign_plan.keks import parse_kek
from adeflow.inputs import campaign_file, manifest
from adeflow.inputs.campaign_file import CampaignError, parse_campaign_text
from adeflow.inputs.manifest import ManifestError, parse_manifest_text, parse_migration_manifest_text
from tests.support.schema_view import json_view

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-web"
KV = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-ade"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/web-01"
V = "0123456789abcdef0123456789abcdef"
KEK = f"https://kv-ade.vault.azure.net/keys/kek/{V}"

Change = Callable[[dict[str, Any]], object]


def _set(path: str, value: object) -> Change:
    """A change to a document: set the value at a dotted path (``vms.0.volume_type``), creating mappings."""

    def change(doc: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = doc
        for part in parents:
            target = target[part] if isinstance(part, int) else target.setdefault(part, {})
        target[last] = value

    return change


def _drop(key: str) -> Change:
    return lambda doc: doc.pop(key)


MANIFEST: dict[str, Any] = {"defaults": {"key_vault_id": KV}, "vms": [{"id": VM}]}
SELECTOR = {"subscription": SUB, "tags": {"env": "prod"}}
GRAPH = {"resource_graph": "Resources", "subscriptions": [SUB]}

BAD_MANIFESTS: dict[str, list[Change]] = {
    "enum with spaces around it": [_set("defaults.volume_type", " Data")],
    "backup with a trailing space": [_set("vms.0.backup", "snapshot ")],
    "confirmation with a trailing space": [_set("defaults.confirmations", ["no-kdump "])],
    "enum not in the list": [_set("defaults.restart", "sometimes")],
    "KEK version not 32 hex digits": [_set("defaults.kek", {"key_url": KEK.replace(V, "0123"), "vault_id": KV})],
    "KEK on a host that is not Key Vault": [
        _set("defaults.kek", {"key_url": KEK.replace("vault.azure.net", "example.com"), "vault_id": KV})
    ],
    "KEK with a port": [_set("defaults.kek", {"key_url": KEK.replace(".net/", ".net:443/"), "vault_id": KV})],
    "KEK unversioned": [_set("defaults.kek", {"key_url": KEK.rsplit("/", 1)[0], "vault_id": KV})],
    "KEK with a query": [_set("defaults.kek", {"key_url": KEK + "?x=1", "vault_id": KV})],
    "vault name too short": [_set("defaults.key_vault_id", KV.replace("kv-ade", "kv"))],
    "vault name with two hyphens": [_set("defaults.key_vault_id", KV.replace("kv-ade", "kv--ade"))],
    "resource group with a space": [_set("vms.0.id", VM.replace("rg-web", "rg web"))],
    "VM id of another type": [_set("vms.0.id", KV)],
    "subscription not a GUID": [_set("vms.0", {"subscription": "prod", "resource_group": "rg", "name": "w"})],
    "a name given as a number": [_set("vms.0", {"subscription": SUB, "resource_group": 123, "name": "w"})],
    "duration with a space": [_set("rollout.poll_interval", "1h 30m")],
    "duration in upper case": [_set("rollout.poll_interval", "5M")],
    "zero duration": [_set("rollout.poll_interval", "0s")],
    "percentage with a space": [_set("rollout.failure_budget", "5 %")],
    "percentage with leading zeros": [_set("rollout.failure_budget", "007%")],
    "percentage over 100": [_set("rollout.failure_budget", "150%")],
    "rollout name given as a number": [_set("rollout.name", 2026)],
    "rollout name with a slash": [_set("rollout.name", "eu/web")],
    "concurrency over 1000": [_set("rollout.concurrency", 5000)],
    "empty waves": [_set("rollout.waves", [])],
    "empty tag value": [_set("selectors", [{**SELECTOR, "tags": {"env": ""}}])],
    "empty tags": [_set("selectors", [{**SELECTOR, "tags": {}}])],
    "blank graph query": [_set("selectors", [{**GRAPH, "resource_graph": "  "}])],
    "graph query without subscriptions": [_set("selectors", [{"resource_graph": "Resources"}])],
    "tags and a graph query": [_set("selectors", [{**SELECTOR, **GRAPH}])],
    "unknown key": [_set("vms.0.volumetype", "Data")],
    "version 2": [_set("version", 2)],
    "no VMs and no selectors": [_set("vms", [])],
    "waiver with a blank statement": [_set("defaults.backup_waiver", {"operator": "alice", "statement": " "})],
    "migrate on a VM of a rollout manifest": [_set("vms.0.migrate", {"path": "rebuild"})],
    "migrate on a selector of a rollout manifest": [_set("selectors", [{**SELECTOR, "migrate": {"nic": "new"}}])],
}

GOOD_MANIFESTS: dict[str, list[Change]] = {
    "as given": [],
    "enum in any case": [_set("defaults.volume_type", "DATA"), _set("vms.0.backup", "Azure-Backup")],
    "a whole fleet budget": [_set("rollout.failure_budget", "100%")],
    "durations": [_set("rollout.poll_interval", "1h30m"), _set("rollout.encryption_deadline", 86400)],
    "a sovereign-cloud KEK in upper case": [
        _set("defaults.kek", {"key_url": "https://" + KEK[8:].replace("azure.net", "azure.cn").upper(), "vault_id": KV})
    ],
    "a vault id with a trailing slash": [_set("defaults.key_vault_id", KV + "/")],
    "tag values as YAML reads them": [_set("selectors", [{**SELECTOR, "tags": {"ade": True, "tier": 1}}])],
    "a graph selector": [_set("selectors", [GRAPH])],
}  # fmt: skip


def _document(base: dict[str, Any], changes: list[Change]) -> str:
    doc = copy.deepcopy(base)
    for change in changes:
        change(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def _schema_errors(schema_path: Path, text: str) -> list[str]:
    """What an editor's schema check says: the document read as YAML 1.2 (timestamps are text)."""
    validator = jsonschema.Draft202012Validator(json.loads(schema_path.read_text()))
    return [error.message for error in validator.iter_errors(json_view(text))]


def _manifest_problems(text: str) -> list[str]:
    try:
        parse_manifest_text(text, source="m.yaml")
    except ManifestError as error:
        return [p.render() for p in error.problems]
    return []


@pytest.mark.parametrize("name", BAD_MANIFESTS)
def test_the_loader_and_the_schema_reject_the_same_bad_manifests(name: str) -> None:
    text = _document(MANIFEST, BAD_MANIFESTS[name])
    assert _manifest_problems(text), f"the loader accepts: {text}"
    assert _schema_errors(manifest.SCHEMA_PATH, text), f"the schema accepts: {text}"


@pytest.mark.parametrize("name", GOOD_MANIFESTS)
def test_the_loader_and_the_schema_accept_the_same_good_manifests(name: str) -> None:
    text = _document(MANIFEST, GOOD_MANIFESTS[name])
    assert _manifest_problems(text) == []
    assert _schema_errors(manifest.SCHEMA_PATH, text) == []


# ------------------------------------------------------------------------------------------- migration manifests

IMAGE = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk5tq1Ptq6a3sOAoVvHKN3Oz0CBrbGJ/zfEKTx6Vmfi ops@example"
REBUILD = {"image": IMAGE, "admin_username": "azureuser", "ssh_public_key": SSH}
GALLERY = f"{RG}/providers/Microsoft.Compute/galleries/g1/images/ubuntu/versions/1.2.3"
MIGRATION: dict[str, Any] = {"migrate": {}, "defaults": {"backup": "snapshot"}, "vms": [{"id": VM}]}


def _rebuild(**changes: Any) -> Change:
    return _set("migrate.rebuild", {**REBUILD, **changes})


def _image(image: dict[str, Any]) -> Change:
    return _rebuild(image=image)


BAD_MIGRATIONS: dict[str, list[Change]] = {
    "path not in the list": [_set("migrate.path", "sideways")],
    "path with a space around it": [_set("migrate.path", " rebuild")],
    "nic policy not in the list": [_set("vms.0.migrate", {"nic": "keep"})],
    "downtime neither approval nor a window": [_set("migrate.downtime", "later")],
    "downtime window without times": [_set("migrate.downtime", {})],
    "downtime start without a zone": [_set("migrate.downtime", {"start": "2026-11-07T22:00:00"})],
    "downtime start as a date only": [_set("migrate.downtime", {"start": "2026-11-07"})],
    "downtime window with another key": [_set("migrate.downtime", {"begin": "2026-11-07T22:00:00Z"})],
    "cleanup with an unknown key": [_set("migrate.cleanup", {"delete_vm": True})],
    "cleanup flag as text": [_set("migrate.cleanup", {"delete_source_disks": "yes"})],
    "empty target suffix": [_set("migrate.target_suffix", "")],
    "target suffix ending with a dot": [_set("migrate.target_suffix", "-new.")],
    "target suffix with a space": [_set("migrate.target_suffix", "-e a h")],
    "target name for the whole fleet": [_set("migrate.target_name", "web-new")],
    "target name on a selector": [_set("selectors", [{**SELECTOR, "migrate": {"target_name": "web-new"}}])],
    "target name starting with a hyphen": [_set("vms.0.migrate", {"target_name": "-web"})],
    "SAS duration under 5 minutes": [_set("migrate.sas_duration", 60)],
    "SAS duration with a space": [_set("migrate.sas_duration", "1h 30m")],
    "copy parallelism 0": [_set("migrate.copy_parallelism", 0)],
    "copy parallelism over 64": [_set("migrate.copy_parallelism", 65)],
    "checkpoint under 4 MiB": [_set("migrate.checkpoint_size", "1MiB")],
    "checkpoint in MB": [_set("migrate.checkpoint_size", "256MB")],
    "checkpoint as a number": [_set("migrate.checkpoint_size", 268435456)],
    "register_feature as text": [_set("migrate.register_feature", "yes")],
    "zero reminder interval": [_set("migrate.reminder_interval", "0s")],
    "unknown migrate key": [_set("migrate.nics", "new")],
    "migrate not a mapping": [_set("vms.0.migrate", "rebuild")],
    "rebuild without an SSH key": [_set("migrate.rebuild", {"image": IMAGE, "admin_username": "azureuser"})],
    "rebuild image publisher still TODO": [_image({**IMAGE, "publisher": "TODO"})],
    "rebuild admin user still TODO": [_rebuild(admin_username="TODO")],
    "rebuild SSH key still TODO": [_rebuild(ssh_public_key="TODO")],
    "rebuild admin user root": [_rebuild(admin_username="root")],
    "rebuild admin user Admin": [_rebuild(admin_username="Admin")],
    "rebuild admin user with a dot": [_rebuild(admin_username="ops.user")],
    "rebuild DSA key": [_rebuild(ssh_public_key="ssh-dss AAAAB3NzaC1kc3M= old")],
    "rebuild key on two lines": [_rebuild(ssh_public_key=SSH + "\nssh-rsa AAAA")],
    "rebuild image by id and by name": [_image({**IMAGE, "id": GALLERY})],
    "rebuild image id of a VM": [_image({"id": VM})],
    "rebuild image without a sku": [_image({"publisher": "a", "offer": "b"})],
    "rebuild image version newest": [_image({**IMAGE, "version": "newest"})],
    "a Key Vault in a migration": [_set("defaults.key_vault_id", KV)],
    "a volume type on a migrating VM": [_set("vms.0.volume_type", "Data")],
    "confirmations on a migrating selector": [_set("selectors", [{**SELECTOR, "confirmations": ["no-kdump"]}])],
}  # fmt: skip

GOOD_MIGRATIONS: dict[str, list[Change]] = {
    "as given": [],
    "every key": [
        _set("migrate", {
            "path": "copy-disks", "nic": "reuse", "downtime": "approval",
            "cleanup": {"delete_source_vm": False, "reset_vault_disk_encryption": True},
            "target_suffix": "-eah2", "sas_duration": "6h", "copy_parallelism": 64, "checkpoint_size": "1GiB",
            "register_feature": True, "reminder_interval": "12h", "rebuild": REBUILD,
        })
    ],
    "choices in any case": [_set("migrate.path", "Rebuild"), _rebuild(), _set("migrate.nic", "NEW")],
    "downtime approval in any case": [_set("migrate.downtime", "Approval")],
    "a window in another zone": [
        _set("migrate.downtime", {"start": "2026-11-07T23:00:00+01:00", "end": "2026-11-08 04:30Z"})
    ],
    "a window that only ends": [_set("migrate.downtime", {"end": "2026-11-08T04:00:00Z"})],
    "an image by gallery id": [_image({"id": GALLERY})],
    "an image without a version": [_image({"publisher": "a", "offer": "b", "sku": "c"})],
    "a publisher that starts like todo": [_image({**IMAGE, "publisher": "todoist"})],
    "an RSA key without a comment": [_rebuild(ssh_public_key="ssh-rsa AAAAB3NzaC1yc2E=")],
    "a VM's own target name and settings": [_set("vms.0.migrate", {"target_name": "web-01-new", "path": "copy-disks"})],
    "SAS duration in seconds": [_set("migrate.sas_duration", 300)],
    "a waiver for the M-3 backup gate": [
        _set("defaults", {"backup": "waive", "backup_waiver": {"operator": "alice", "statement": "DR copy"}})
    ],
    "a selector with its migrate": [_set("selectors", [{**SELECTOR, "migrate": {"copy_parallelism": 4}}])],
}  # fmt: skip


def _migration_problems(text: str) -> list[str]:
    try:
        parse_migration_manifest_text(text, source="m.yaml")
    except ManifestError as error:
        return [p.render() for p in error.problems]
    return []


@pytest.mark.migration
@pytest.mark.parametrize("name", BAD_MIGRATIONS)
def test_the_loader_and_the_schema_reject_the_same_bad_migration_manifests(name: str) -> None:
    text = _document(MIGRATION, BAD_MIGRATIONS[name])
    assert _migration_problems(text), f"the loader accepts: {text}"
    assert _schema_errors(manifest.SCHEMA_PATH, text), f"the schema accepts: {text}"


@pytest.mark.migration
@pytest.mark.parametrize("name", GOOD_MIGRATIONS)
def test_the_loader_and_the_schema_accept_the_same_good_migration_manifests(name: str) -> None:
    text = _document(MIGRATION, GOOD_MIGRATIONS[name])
    assert _migration_problems(text) == []
    assert _schema_errors(manifest.SCHEMA_PATH, text) == []


@pytest.mark.migration
def test_unquoted_yaml_timestamps_read_the_same_in_the_loader_and_the_schema() -> None:
    """YAML 1.1 (the loader) makes a datetime of an unquoted timestamp, YAML 1.2 (editors) keeps the text: both
    accept a zoned one and refuse one without a zone."""
    zoned = "migrate:\n  downtime: {start: 2026-11-07T22:00:00Z, end: 2026-11-08 04:00:00+01:00}\n"
    naive = "migrate:\n  downtime: {start: 2026-11-07T22:00:00}\n"
    for text, ok in ((zoned, True), (naive, False)):
        document = f"{text}vms: [{VM}]\n"
        assert (_migration_problems(document) == []) is ok
        assert (_schema_errors(manifest.SCHEMA_PATH, document) == []) is ok


CAMPAIGN: dict[str, Any] = {
    "name": "nightly",
    "kind": "audit",
    "schedule": {"cron": "30 1 * * *"},
    "selectors": [SELECTOR],
    "defaults": {"key_vault_id": KV},
    "rotate_kek": {"key_url": KEK, "vault_id": KV},
    "notify": {"report_dir": "reports"},
}

BAD_CAMPAIGNS: dict[str, list[Change]] = {
    "kind in another case": [_set("kind", "Audit")],
    "overlap in another case": [_set("overlap", "Skip")],
    "cron with spaces around it": [_set("schedule.cron", " 30 1 * * *")],
    "cron alias in upper case": [_set("schedule.cron", "@Daily")],
    "cron with 4 fields": [_set("schedule.cron", "30 1 * *")],
    "cron and interval": [_set("schedule.interval", "1h")],
    "interval with a space": [_set("schedule", {"interval": "1h 30m"})],
    "time zone with a space": [_set("schedule.time_zone", " UTC")],
    "rotate target with a short version": [_set("rotate_kek.key_url", KEK.replace(V, "abc"))],
    "rotate target on another host": [_set("rotate_kek.key_url", KEK.replace("vault.azure.net", "example.com"))],
    "rotate target with a port": [_set("rotate_kek.key_url", KEK.replace(".net/", ".net:443/"))],
    "negative max age": [_set("rotate_kek.max_age_days", -1)],
    "report dir with spaces around it": [_set("notify.report_dir", " reports")],
    "webhook with a token": [_set("notify.webhook", "https://hooks.example.com/x?token=s3cret")],
    "webhook with credentials": [_set("notify.webhook", "https://user:pw@hooks.example.com/x")],
    "webhook and webhook_env": [_set("notify.webhook", "https://h.example.com/x"), _set("notify.webhook_env", "X")],
    "webhook_env not a name": [_set("notify.webhook_env", "1X")],
    "a name with a space": [_set("name", "bad name")],
    "a name too long": [_set("name", "n" * 47)],
    "a rollout name": [_set("rollout.name", "x")],
    "manifest and selectors": [_set("manifest", "fleet.yaml")],
    "no fleet": [_drop("selectors")],
    "rotate-kek without a target": [_set("kind", "rotate-kek"), _drop("rotate_kek")],
    "drift with a target": [_set("kind", "drift")],
    "missing notify": [_drop("notify")],
    "a bad setting": [_set("defaults.volume_type", "everything")],
    "migrate settings on a selector": [_set("selectors", [{**SELECTOR, "migrate": {"path": "rebuild"}}])],
}

GOOD_CAMPAIGNS: dict[str, list[Change]] = {
    "as given": [],
    "an empty description": [_set("description", "")],
    "an unversioned rotate target": [_set("rotate_kek.key_url", KEK.rsplit("/", 1)[0] + "/")],
    "an interval in seconds": [_set("schedule", {"interval": 3600, "time_zone": "Europe/Berlin"})],
    "a list of crons": [_set("schedule.cron", ["30 1 * * *", "@daily"])],
}


def _campaign_problems(text: str) -> list[str]:
    try:
        parse_campaign_text(text, source="c.yaml")
    except CampaignError as error:
        return [p.render() for p in error.problems]
    return []


@pytest.mark.parametrize("name", BAD_CAMPAIGNS)
def test_the_loader_and_the_schema_reject_the_same_bad_campaigns(name: str) -> None:
    text = _document(CAMPAIGN, BAD_CAMPAIGNS[name])
    assert _campaign_problems(text), f"the loader accepts: {text}"
    assert _schema_errors(campaign_file.SCHEMA_PATH, text), f"the schema accepts: {text}"


@pytest.mark.parametrize("name", GOOD_CAMPAIGNS)
def test_the_loader_and_the_schema_accept_the_same_good_campaigns(name: str) -> None:
    text = _document(CAMPAIGN, GOOD_CAMPAIGNS[name])
    assert _campaign_problems(text) == []
    assert _schema_errors(campaign_file.SCHEMA_PATH, text) == []


# ------------------------------------------------------------------------------------------- KEK URLs, four readers


def _manifest_accepts(url: str) -> bool:
    return not _manifest_problems(_document(MANIFEST, [_set("defaults.kek", {"key_url": url, "vault_id": KV})]))


def _campaign_accepts(url: str) -> bool:
    return not _campaign_problems(_document(CAMPAIGN, [_set("rotate_kek.key_url", url)]))


def _plan_accepts(url: str) -> bool:
    return parse_kek(url) is not None


def _cli_accepts(url: str) -> bool:
    argv = ["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-url", url]
    result = CliRunner().invoke(cli, argv, env={"ADEFLOW_TEMPORAL_ADDRESS": "127.0.0.1:9"})
    assert "Traceback" not in result.output
    return result.exit_code != 2  # 1: accepted, then Temporal is (deliberately) unreachable


READERS = {"manifest": _manifest_accepts, "campaign": _campaign_accepts, "plan": _plan_accepts, "cli": _cli_accepts}
ALL = dict.fromkeys(READERS, True)
NONE = dict.fromkeys(READERS, False)
UNVERSIONED = {"manifest": False, "campaign": True, "plan": True, "cli": False}
"""A KEK must be versioned (R-ENA-3); a campaign's rotate target may name a key, meaning its current version, and
the plan reads that target too."""
REPORTED = {"manifest": False, "campaign": False, "plan": True, "cli": False}
"""Key Vault's management plane reports key URLs with ``:443``; only the plan reads what Azure reports."""

KEK_URLS: list[tuple[str, dict[str, bool]]] = [
    (KEK, ALL),
    (KEK + "/", ALL),
    (KEK.upper().replace("HTTPS", "https"), ALL),
    (KEK.replace("vault.azure.net", "vault.azure.cn"), ALL),
    (KEK.replace("vault.azure.net", "vault.usgovcloudapi.net"), ALL),
    (KEK.rsplit("/", 1)[0], UNVERSIONED),
    (KEK.replace(".net/", ".net:443/"), REPORTED),
    (KEK.replace(".net/", ".net:8443/"), NONE),
    (KEK.replace("https://", "http://"), NONE),
    (KEK.replace("vault.azure.net", "example.com"), NONE),
    (KEK.replace("vault.azure.net", "managedhsm.azure.net"), NONE),
    (KEK.replace(V, "0123"), NONE),
    (KEK.replace(V, "latest"), NONE),
    (KEK.replace(V, V + "00"), NONE),
    (KEK.replace("/keys/", "/secrets/"), NONE),
    (KEK.replace("/keys/kek/", "/keys/kek_1/"), NONE),
    (KEK.replace("/keys/", "//keys/"), NONE),
    (KEK + "//", NONE),
    (KEK + "?api-version=7.4", NONE),
    (KEK + "#x", NONE),
    (KEK.replace("/kek/", "/kek/\t"), NONE),
    (KEK.replace("https://", "https://user@"), NONE),
    (KEK.replace("kv-ade", "kv"), NONE),
    (KEK.replace("kv-ade", "1kv-ade"), NONE),
    (f" {KEK}", NONE),
    ("kek", NONE),
    ("", NONE),
]


@pytest.mark.parametrize(("url", "expected"), KEK_URLS, ids=[u[:90] for u, _ in KEK_URLS])
def test_the_four_kek_url_readers_give_the_same_verdict(url: str, expected: dict[str, bool]) -> None:
    assert {name: accepts(url) for name, accepts in READERS.items()} == expected
