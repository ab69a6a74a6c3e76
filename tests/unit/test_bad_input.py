"""Bad input never reaches Azure or Temporal: a corpus of command lines with their exact errors, and fuzzing of
the manifest parser and id parsers (no traceback ever reaches the user; bad input exits 2)."""

from __future__ import annotations

import contextlib
import string
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adeflow.cli.main import AdeflowGroup, cli
from adeflow.domain.model import VmRef
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.values import parse_vault_object_url
from adeflow.domain.vhd import check_kek_input
from adeflow.inputs.manifest import ManifestError, parse_manifest_text

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-web"
KV = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-ade"
VERSION = "0123456789abcdef0123456789abcdef"
VM = f"{SUB}/rg-web/web-01"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# (command line, the last line of the error the operator sees). Each exits 2 and starts nothing.
CLI_CORPUS: list[tuple[list[str], str]] = [
    (["vm", "status", "a/b/c/d"], "'a/b/c/d': give a VM resource id or <subscription>/<resource-group>/<vm-name>"),
    (["vm", "status", "web-01"], "'web-01': give a VM resource id or <subscription>/<resource-group>/<vm-name>"),
    (["vm", "status", f"{RG}/providers/Microsoft.Compute/disks/d1"],
     "is a Microsoft.Compute/disks id; expected a VM id (/subscriptions/<sub>/resourceGroups/<rg>/providers/"),
    (["vm", "status", "/subscriptions//resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x"],
     "malformed VM resource id"),
    (["vm", "status", "s/rg/vm"], "Invalid value for VM: subscription must be a GUID like"),
    (["vm", "encrypt", VM, "--key-vault-id", "kv-ade"],
     "Invalid value for '--key-vault-id': malformed Key Vault resource id 'kv-ade': expected /subscriptions/"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-url", "https://kv-ade.vault.azure.net/keys/k"],
     "Invalid value for '--kek-url': malformed KEK URL 'https://kv-ade.vault.azure.net/keys/k': no version"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-url", f"https://other.vault.azure.net/keys/k/{VERSION}"],
     "the key is in vault 'other' but --key-vault-id (the KEK vault by default) names vault 'kv-ade'; they must "
     "be the same vault (R-ENA-3)"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-url", f"http://kv-ade.vault.azure.net/keys/k/{VERSION}"],
     "not an https URL; expected a versioned key URL"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-url", f"https://kv-ade.vault.azure.net:443/keys/k/{VERSION}"],
     "it has a port; expected a versioned key URL"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-vault-id", KV], "--kek-vault-id needs --kek-url"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--volume-type", "everything"],
     "Invalid value for '--volume-type': must be one of OS, Data, All; got 'everything'"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--backup", "snapshots"],
     "Invalid value for '--backup': must be one of auto, snapshot, azure-backup, waive; did you mean \"snapshot\"?"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--poll-interval", "5x"],
     "Invalid value for '--poll-interval': expected a duration like 30s, 5m"),
    (["vm", "encrypt", VM, "--key-vault-id", KV, "--kek-vault-id", f"{RG}/providers/Microsoft.Compute/disks/d1",
      "--kek-url", f"https://kv-ade.vault.azure.net/keys/k/{VERSION}"],
     "Invalid value for '--kek-vault-id': '/subscriptions/"),
    (["vm", "create-from-vhd", VM, "--os-disk-id", "d", "--secret-url", "s", "--nic-id", "n", "--key-vault-id", KV,
      "--kek-url", "https://kv-ade.vault.azure.net/keys/k/latest"], "'latest' is not a Key Vault version"),
    (["rollout", "start", "does-not-exist.yaml"], "File 'does-not-exist.yaml' does not exist."),
    (["migrate", "report", "s/rg/vm"], "Invalid value for VM: subscription must be a GUID like"),
    (["migrate", "report", "demo-migrate-1", "--format", "pdf"], "Invalid value for '--format': 'pdf' is not one of"),
    (["demo", "--scenario", "migration"], "Invalid value for '--scenario': 'migration' is not one of"),
    (["demo", "--scenario", "migrate", "--manifest", str(EXAMPLES / "demo-rollout.yaml")],
     "not a migration manifest: add a top-level migrate section"),  # checked before anything starts (issue 16)
]  # fmt: skip


@pytest.mark.parametrize(("argv", "expected"), CLI_CORPUS, ids=[" ".join(a)[:60] for a, _ in CLI_CORPUS])
def test_bad_command_lines_exit_2_with_the_exact_error(argv: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, argv, env={"ADEFLOW_TEMPORAL_ADDRESS": "127.0.0.1:9"})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert expected in result.output.strip().splitlines()[-1]


def test_the_corpus_is_large_enough() -> None:
    manifests = Path(__file__).parent.parent / "data" / "manifests" / "bad"
    assert len(CLI_CORPUS) + len(list(manifests.glob("*.expected"))) >= 40


# ---------------------------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = [
    "version",
    "rollout",
    "defaults",
    "vms",
    "selectors",
    "id",
    "subscription",
    "resource_group",
    "name",
    "key_vault_id",
    "kek",
    "key_url",
    "vault_id",
    "volume_type",
    "backup",
    "restart",
    "tags",
    "resource_graph",
    "concurrency",
    "canary",
    "waves",
    "failure_budget",
    "poll_interval",
    "confirmations",
    "backup_waiver",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["All", "data", "OS", "5%", "10m", KV, f"{RG}/providers/Microsoft.Compute/virtualMachines/w",
                     f"https://kv-ade.vault.azure.net/keys/k/{VERSION}", "waive", "auto", "1e9", "-1", "0x1"]),
)  # fmt: skip
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def _parse_or_refuse(text: str) -> None:
    try:
        parse_manifest_text(text, source="fuzz.yaml")
    except ManifestError as exc:
        assert str(exc).startswith("fuzz.yaml"), str(exc)


@FUZZ
@given(documents)
def test_fuzzed_manifest_structures_are_accepted_or_refused_never_crash(document: object) -> None:
    _parse_or_refuse(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(st.text(alphabet=string.printable + "\u00e9\u3042\t", max_size=300))
def test_fuzzed_manifest_text_is_accepted_or_refused_never_crash(text: str) -> None:
    _parse_or_refuse(text)


@FUZZ
@given(st.text(max_size=200), st.sampled_from(["yaml", "csv"]))
def test_fuzzed_csv_and_yaml_bytes_never_crash(text: str, fmt: str) -> None:
    with contextlib.suppress(ManifestError):
        parse_manifest_text(text, source="fuzz", fmt=fmt, defaults={"defaults": {"key_vault_id": KV}})  # type: ignore[arg-type]


id_parts = st.sampled_from(
    [
        "",
        "subscriptions",
        SUB,
        "resourceGroups",
        "rg-web",
        "providers",
        "Microsoft.Compute",
        "virtualMachines",
        "vm-1",
        "Microsoft.KeyVault",
        "vaults",
        "kv",
        "..",
        " ",
        "%2F",
    ]
)


@FUZZ
@given(st.one_of(st.text(max_size=120), st.lists(id_parts, max_size=10).map(lambda parts: "/" + "/".join(parts))))
def test_id_parsers_raise_value_error_only(text: str) -> None:
    for parse in (parse_resource_id, VmRef.from_resource_id):
        try:
            parse(text)
        except ValueError as exc:
            assert str(exc)  # says what is wrong


@FUZZ
@given(
    st.one_of(
        st.text(max_size=120),
        st.builds(
            "https://{}.vault.azure.net/{}/{}/{}".format,
            st.text(max_size=12),
            st.sampled_from(["keys", "secrets", "x"]),
            st.text(max_size=8),
            st.text(max_size=40),
        ),
    )
)
def test_key_url_checks_refuse_with_a_rule_never_crash(url: str) -> None:
    try:
        parse_vault_object_url(url, "keys")
    except ValueError as exc:
        assert str(exc)
    for refusal in check_kek_input(url, KV):
        assert refusal.rule == "R-ENA-3"


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "/-_.:%", min_size=1, max_size=80))
def test_fuzzed_vm_arguments_exit_2_without_traceback(value: str) -> None:
    result = CliRunner().invoke(cli, ["vm", "status", value], env={"ADEFLOW_TEMPORAL_ADDRESS": "127.0.0.1:9"})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code != 1:  # 1: a well-formed id, and Temporal is (deliberately) unreachable
        assert result.exit_code == 2, result.output


@pytest.mark.parametrize("argv", [["rollout", "list"], ["campaign", "list"], ["vm", "disable", VM]])
def test_misconfigured_codec_keys_exit_2_before_anything_starts(argv: list[str]) -> None:
    env = {"ADEFLOW_TEMPORAL_ADDRESS": "127.0.0.1:9", "ADEFLOW_CODEC_KEYS": "k1"}
    result = CliRunner().invoke(cli, argv, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == "Error: ADEFLOW_CODEC_KEYS: expected id:base64[,id:base64...]"


def test_an_unexpected_error_is_one_line_pointing_at_debug_logs() -> None:
    """Issue 15: the CLI's one mapper; an error of no known kind is one line, its traceback only at debug level."""

    @click.group(cls=AdeflowGroup)
    def probe() -> None:
        pass

    @probe.command()
    def boom() -> None:
        raise KeyError("no such thing")

    result = CliRunner().invoke(probe, ["boom"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "adeflow: unexpected error: KeyError: 'no such thing'; rerun with --log-level debug for details"
    )
    assert "Traceback" not in result.output
