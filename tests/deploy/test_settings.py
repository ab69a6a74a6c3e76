"""Connection and identity settings: Temporal (dev server, mTLS cluster, Temporal Cloud), Azure clouds, the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme
from temporalio.service import TLSConfig

from activities.azure.clients import AzureClients
from adeflow.client.connect import describe, tls_config
from adeflow.client.logging import use_json
from adeflow.inputs.settings import AZURE_CLOUDS, Settings, setting_names

pytestmark = [pytest.mark.unit, pytest.mark.deploy]


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    client = ca.issue_cert("adeflow-worker")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "client.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    return {name: str(path) for name, path in paths.items()}


def test_defaults_reach_a_local_dev_server_without_tls() -> None:
    settings = Settings.from_env({})
    assert (settings.temporal.address, settings.temporal.namespace, settings.temporal.tls) == (
        "localhost:7233",
        "default",
        False,
    )
    assert tls_config(settings.temporal) is False
    assert settings.telemetry.metrics_address == "" and settings.telemetry.log_format == "auto"


def test_mtls_cluster(pki: dict[str, str]) -> None:
    settings = Settings.from_env(
        {
            "ADEFLOW_TEMPORAL_ADDRESS": "temporal.internal:7233",
            "ADEFLOW_TEMPORAL_TLS_CERT": pki["cert"],
            "ADEFLOW_TEMPORAL_TLS_KEY": pki["key"],
            "ADEFLOW_TEMPORAL_TLS_CA": pki["ca"],
            "ADEFLOW_TEMPORAL_TLS_SERVER_NAME": "temporal.example.com",
        }
    ).temporal
    assert settings.tls
    config = tls_config(settings)
    assert isinstance(config, TLSConfig)
    assert config.client_cert == Path(pki["cert"]).read_bytes()
    assert config.client_private_key == Path(pki["key"]).read_bytes()
    assert config.server_root_ca_cert == Path(pki["ca"]).read_bytes()
    assert config.domain == "temporal.example.com"
    assert describe(settings) == "temporal.internal:7233 (namespace default, TLS mTLS)"


def test_temporal_cloud_api_key_implies_tls_and_stays_out_of_reprs(tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text("tcld-secret-key\n")
    key_file.chmod(0o600)
    settings = Settings.from_env(
        {
            "ADEFLOW_TEMPORAL_ADDRESS": "us-east-1.aws.api.temporal.io:7233",
            "ADEFLOW_TEMPORAL_NAMESPACE": "ade.a1b2c",
            "ADEFLOW_TEMPORAL_API_KEY_FILE": str(key_file),
        }
    )
    assert settings.temporal.api_key == "tcld-secret-key"
    assert settings.temporal.tls and tls_config(settings.temporal) is True  # the system trust store
    assert "tcld-secret-key" not in repr(settings) and "tcld-secret-key" not in describe(settings.temporal)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ADEFLOW_TEMPORAL_TLS_CERT": "__CERT__"}, "go together"),
        (
            {"ADEFLOW_TEMPORAL_TLS_CA": "/nonexistent/ca.pem"},
            "ADEFLOW_TEMPORAL_TLS_CA='/nonexistent/ca.pem' does not exist",
        ),
        ({"ADEFLOW_TEMPORAL_API_KEY": "k", "ADEFLOW_TEMPORAL_TLS": "false"}, "contradicts"),
        ({"ADEFLOW_TEMPORAL_TLS": "maybe"}, "is not a boolean"),
        ({"ADEFLOW_AZURE_CLOUD": "AzureGermanCloud"}, "is not one of AzureCloud"),
        ({"ADEFLOW_LOG_FORMAT": "xml"}, "must be json, console or auto"),
        ({"ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS": "many"}, "ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS='many' is not a whole"),
        ({"ADEFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES": "0"}, "must be at least 1"),
    ],
)
def test_unusable_settings_name_the_variable(env: dict[str, str], message: str, pki: dict[str, str]) -> None:
    env = {k: v.replace("__CERT__", pki["cert"]) for k, v in env.items()}
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_sovereign_cloud_sets_endpoint_scope_and_authority() -> None:
    gov = Settings.from_env({"ADEFLOW_AZURE_CLOUD": "azureusgovernment"}).azure
    assert (gov.cloud, gov.arm_endpoint, gov.arm_scope, gov.authority) == (
        "AzureUSGovernment",
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/.default",
        "login.microsoftonline.us",
    )
    china = Settings.from_env({"ADEFLOW_AZURE_CLOUD": "AzureChinaCloud"}).azure
    assert china.arm_endpoint == AZURE_CLOUDS["AzureChinaCloud"].arm_endpoint
    custom = Settings.from_env(
        {
            "ADEFLOW_AZURE_CLOUD": "AzureStackHub",
            "ADEFLOW_ARM_ENDPOINT": "https://management.local.azurestack.external/",
            "ADEFLOW_ARM_SCOPE": "https://management.adfs.azurestack.local/.default",
            "ADEFLOW_AZURE_AUTHORITY": "adfs.local.azurestack.external",
        }
    ).azure
    assert custom.arm_endpoint == "https://management.local.azurestack.external"
    assert custom.authority == "adfs.local.azurestack.external"


async def test_azure_clients_use_the_clouds_endpoint_and_scope() -> None:
    clients = AzureClients(Settings.from_env({"ADEFLOW_AZURE_CLOUD": "AzureChinaCloud"}).azure)
    try:
        options = clients._client_options()
        assert options["base_url"] == "https://management.chinacloudapi.cn"
        assert options["credential_scopes"] == ["https://management.chinacloudapi.cn/.default"]
        compute = clients.compute("00000000-0000-0000-0000-000000000001")
        assert compute._config.credential_scopes == ["https://management.chinacloudapi.cn/.default"]
    finally:
        await clients.close()


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_config_file_with_environment_overrides(tmp_path: Path, suffix: str) -> None:
    text = {
        ".toml": 'task_queue = "ade-eu"\n[temporal]\naddress = "temporal.internal:7233"\nnamespace = "ade"\n'
        '[arm]\nbudget_share = 0.25\n[metrics]\naddress = "0.0.0.0:9464"\n',
        ".yaml": "task_queue: ade-eu\ntemporal:\n  address: temporal.internal:7233\n  namespace: ade\n"
        "arm:\n  budget_share: 0.25\nmetrics:\n  address: 0.0.0.0:9464\n",
    }[suffix]
    path = tmp_path / f"adeflow{suffix}"
    path.write_text(text)
    settings = Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path), "ADEFLOW_TEMPORAL_NAMESPACE": "ade-prod"})
    assert settings.temporal.address == "temporal.internal:7233"
    assert settings.temporal.namespace == "ade-prod"  # the environment wins
    assert settings.temporal.task_queue == "ade-eu"
    assert settings.azure.arm_budget_share == 0.25
    assert settings.telemetry.metrics_address == "0.0.0.0:9464"


def test_config_file_rejects_unknown_settings(tmp_path: Path) -> None:
    path = tmp_path / "adeflow.toml"
    path.write_text('[temporal]\nadress = "typo:7233"\n')
    with pytest.raises(ValueError, match=r"unknown setting.*temporal_adress"):
        Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ADEFLOW_LRO_POLL_SECONDS": "soon"}, "ADEFLOW_LRO_POLL_SECONDS='soon' is not a number"),
        ({"ADEFLOW_LRO_POLL_SECONDS": "0"}, "ADEFLOW_LRO_POLL_SECONDS='0' must be more than 0"),
        ({"ADEFLOW_ARM_READS_PER_S": "inf"}, "ADEFLOW_ARM_READS_PER_S='inf' is not a finite number"),
        ({"ADEFLOW_ARM_BUDGET_SHARE": "1.5"}, "ADEFLOW_ARM_BUDGET_SHARE='1.5' must be at most 1"),
        ({"ADEFLOW_TEMPORAL_API_KEY_FILE": "/"}, "ADEFLOW_TEMPORAL_API_KEY_FILE='/' does not exist or is not a file"),
    ],
)
def test_numbers_and_files_are_checked_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env(env)


def test_every_unusable_value_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as raised:
        Settings.from_env({"ADEFLOW_TEMPORAL_TLS": "maybe", "ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS": "0"})
    assert str(raised.value) == (
        "ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS='0' must be at least 1; "
        "ADEFLOW_TEMPORAL_TLS='maybe' is not a boolean (true or false)"
    )


def test_a_bad_value_from_the_config_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "adeflow.toml"
    path.write_text("[arm]\nbudget_share = 4\n")
    with pytest.raises(ValueError, match=re.escape(f"ADEFLOW_ARM_BUDGET_SHARE=4 (in ADEFLOW_CONFIG_FILE={path})")):
        Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)})


def test_an_unknown_key_in_the_config_file_names_the_closest_setting(tmp_path: Path) -> None:
    path = tmp_path / "adeflow.yaml"
    path.write_text("temporal:\n  adress: typo:7233\n")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) temporal_adress \(did you mean temporal_address\?\)"):
        Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)})


def test_a_blank_variable_leaves_the_config_files_value(tmp_path: Path) -> None:
    """Compose passes ``${VAR:-}`` through as an empty string: that is unset, not "back to the default"."""
    path = tmp_path / "adeflow.toml"
    path.write_text('task_queue = "ade-eu"\n[temporal]\nnamespace = "ade"\n')
    env = {"ADEFLOW_CONFIG_FILE": str(path), "ADEFLOW_TASK_QUEUE": "", "ADEFLOW_TEMPORAL_NAMESPACE": "  "}
    settings = Settings.from_env(env).temporal
    assert (settings.task_queue, settings.namespace) == ("ade-eu", "ade")
    assert Settings.from_env({"ADEFLOW_TEMPORAL_ADDRESS": " "}).temporal.address == "localhost:7233"


def test_a_secret_never_reaches_an_error_message(tmp_path: Path) -> None:
    path = tmp_path / "adeflow.toml"
    path.write_text('[temporal]\napi_key = ["tcld-secret-key"]\n[arm]\nstatic_token = ["sim-secret"]\n')
    path.chmod(0o600)  # private, as a file holding secrets must be
    with pytest.raises(ValueError) as raised:
        Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)})
    assert "ADEFLOW_TEMPORAL_API_KEY=<hidden>" in str(raised.value) and "must be a string" in str(raised.value)
    assert "ADEFLOW_ARM_STATIC_TOKEN=<hidden>" in str(raised.value)
    assert "tcld-secret-key" not in str(raised.value) and "sim-secret" not in str(raised.value)


def test_every_setting_name_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    undocumented = sorted(name for name in setting_names() if f"`{name}`" not in readme)
    assert not undocumented, f"add {undocumented} to the configuration table in README.md"


def test_log_format_is_json_unless_attached_to_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert not use_json("auto") and use_json("json") and not use_json("console")
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert use_json("auto") and not use_json("console")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_a_config_file_holding_a_secret_must_be_private(tmp_path: Path, mode: int) -> None:
    """Secrets in files: an API key written into ADEFLOW_CONFIG_FILE is refused while others may read the file,
    as a *_FILE secret is; the same file without a secret may be shared."""
    path = tmp_path / "adeflow.toml"
    path.write_text('[temporal]\naddress = "temporal.internal:7233"\napi_key = "k-123"\n')
    path.chmod(mode)
    if mode & 0o077:
        with pytest.raises(
            ValueError, match=rf"holds temporal_api_key .*mode {mode:o}.*chmod 600 {re.escape(str(path))}"
        ):
            Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)})
    else:
        assert Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)}).temporal.api_key == "k-123"
    path.write_text('[temporal]\naddress = "temporal.internal:7233"\n')
    path.chmod(0o644)
    assert Settings.from_env({"ADEFLOW_CONFIG_FILE": str(path)}).temporal.address == "temporal.internal:7233"
