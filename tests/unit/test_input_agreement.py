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
from adeflow.inputs.manifest import ManifestError, parse_manifest_text

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
    validator = jsonschema.Draft202012Validator(json.loads(schema_path.read_text()))
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


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
