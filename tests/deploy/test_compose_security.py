"""The compose stack is secure by default (issue 17), checked on the files (no container engine runs here).

Every published port binds loopback unless an operator sets one of the documented ``*_HOST_IP`` variables; the
UI is read-only unless the operator opts in; no secret value or default password is in any compose file, and
secrets reach the containers as files (compose ``secrets:`` under /run/secrets, read through adeflow's
``*_FILE`` settings); the Compose version the file needs is stated where operators look.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from adeflow.inputs.settings import Settings
from tests.support.deployfiles import COMPOSE, ROOT, Unset, environment, interpolate, load_compose, variables

pytestmark = [pytest.mark.unit, pytest.mark.deploy]

OVERRIDES = sorted((ROOT / "deploy").glob("compose.*.yml"))
FILES = [COMPOSE, *OVERRIDES]
README = (ROOT / "README.md").read_text()
BIND_VARIABLES = {"FRONTEND_HOST_IP", "UI_HOST_IP", "METRICS_HOST_IP"}
"""The documented overrides that move a published port off loopback (README, "What is exposed")."""
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|_KEY$|KEYS$", re.IGNORECASE)
WORKER_SECRET_FILES = {
    "ADEFLOW_TEMPORAL_API_KEY_FILE": ("SECRET_TEMPORAL_API_KEY", "temporal-api-key"),
    "ADEFLOW_CODEC_KEY_FILE": ("SECRET_CODEC_KEYS", "codec-keys"),
    "ADEFLOW_CONFIG_FILE": ("SECRET_WORKER_CONFIG", "worker-config"),
    "ADEFLOW_TEMPORAL_TLS_CERT": ("SECRET_TEMPORAL_TLS_CERT", "temporal-tls-cert"),
    "ADEFLOW_TEMPORAL_TLS_KEY": ("SECRET_TEMPORAL_TLS_KEY", "temporal-tls-key"),
    "ADEFLOW_TEMPORAL_TLS_CA": ("SECRET_TEMPORAL_TLS_CA", "temporal-tls-ca"),
}
"""The files adeflow reads (its ``*_FILE`` settings): the host file's variable and the compose secret."""


def services(path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_compose(path).get("services") or {}
    return found


def service_secrets(service: dict[str, Any]) -> dict[str, str]:
    """The secrets a service mounts: name -> file name under /run/secrets."""
    mounted = {}
    for entry in service.get("secrets") or []:
        source = entry if isinstance(entry, str) else entry["source"]
        mounted[source] = source if isinstance(entry, str) else entry.get("target", source)
    return mounted


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_published_port_binds_loopback_unless_a_documented_override(path: Path) -> None:
    for name, service in services(path).items():
        for port in service.get("ports") or []:
            assert isinstance(port, str) and interpolate(port, {}).count(":") == 2, (
                f"{path.name} {name}: publish {port!r} as HOST_IP:HOST_PORT:CONTAINER_PORT (HOST_PORT may be empty)"
            )
            where = f"{path.name} {name}: {port!r}"
            assert interpolate(port, {}).split(":")[0] == "127.0.0.1", f"{where} binds beyond loopback"
            for variable in variables(port):
                assert variable in BIND_VARIABLES, f"{where}: {variable} is no documented override"
    for variable in BIND_VARIABLES:
        assert f"`{variable}`" in README, f"README.md must say when {variable} may move a port off loopback"


def test_only_the_frontend_the_ui_and_metrics_are_published() -> None:
    published = {name for name, service in services(COMPOSE).items() if service.get("ports")}
    assert published == {"temporal", "temporal-ui", "worker", "worker-create", "prometheus"}
    for path in OVERRIDES:
        assert not any(service.get("ports") for service in services(path).values()), f"{path.name} publishes a port"


def test_the_ui_is_read_only_unless_the_operator_opts_in() -> None:
    ui = dict(environment(services(COMPOSE)["temporal-ui"]))
    setting = ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] or ""
    assert interpolate(setting, {}) == "true"
    assert interpolate(setting, {"TEMPORAL_DISABLE_WRITE_ACTIONS": "false"}) == "false"
    assert "`TEMPORAL_DISABLE_WRITE_ACTIONS=false`" in README


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_secret_value_or_default_password_in_the_compose_files(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"PASSWORD:-|PWD:-|\$\{POSTGRES_PASSWORD", text), "no default (or variable) password"
    for name, service in services(path).items():
        for variable, value in environment(service):
            if not SECRET_NAME.search(variable) or value is None:  # a pass-through name carries no value
                continue
            everything = {v: "x" for v in variables(value)}
            for env in ({}, everything):
                resolved = interpolate(value, env)
                assert resolved in ("", "x") or resolved.startswith("/run/secrets/"), (
                    f"{path.name} {name}: {variable}={value!r} puts a secret's value in the file or the environment; "
                    "mount it as a secret file and set the *_FILE setting to /run/secrets/<name>"
                )


def test_the_postgres_password_is_a_required_secret_file() -> None:
    compose = load_compose()
    source = compose["secrets"]["postgres-password"]["file"]
    assert source == "./secrets/postgres-password", "required: a fixed path, no default password to fall back on"
    assert "/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "secrets/postgres-password:" in (ROOT / "Makefile").read_text()
    stack = compose["services"]
    assert stack["postgresql"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    for name in ("postgresql", "temporal-schema", "temporal"):
        assert "postgres-password" in service_secrets(stack[name]), name
        for variable, _ in environment(stack[name]):
            assert variable not in ("POSTGRES_PASSWORD", "POSTGRES_PWD", "SQL_PASSWORD"), f"{name}: {variable}"
    for name in ("temporal-schema", "temporal"):
        assert "cat /run/secrets/postgres-password" in stack[name]["command"][0], name


@pytest.mark.parametrize("worker", ["worker", "worker-create"])
def test_worker_secrets_are_mounted_files_read_through_the_file_settings(worker: str, tmp_path: Path) -> None:
    compose = load_compose()
    service = compose["services"][worker]
    env = dict(environment(service))
    azure_certificate = "SECRET_AZURE_CERTIFICATE" if worker == "worker" else "SECRET_AZURE_CREATE_CERTIFICATE"
    mounts = {**WORKER_SECRET_FILES, "AZURE_CLIENT_CERTIFICATE_PATH": (azure_certificate, "")}
    placeholder = ROOT / "deploy" / "no-secret"
    assert placeholder.is_file() and placeholder.read_text() == ""
    host: dict[str, str] = {}
    for variable, (host_variable, secret) in mounts.items():
        secret = secret or azure_certificate.removeprefix("SECRET_").lower().replace("_", "-")
        target = f"/run/secrets/{service_secrets(service).get(secret)}"
        assert secret in service_secrets(service), f"{worker} does not mount secret {secret}"
        source = compose["secrets"][secret]["file"]
        assert interpolate(source, {}) == "./deploy/no-secret", f"{secret}: unset, it mounts the empty placeholder"
        assert interpolate(source, {host_variable: "/etc/adeflow/x"}) == "/etc/adeflow/x"
        assert interpolate(env[variable] or "", {}) == "", f"{variable}: blank (unset) when {host_variable} is unset"
        assert interpolate(env[variable] or "", {host_variable: "/etc/adeflow/x"}) == target
        host[host_variable] = "/etc/adeflow/x"
    # With every file configured the worker reads its settings from the mounted files (here: files in tmp_path).
    files = {"temporal-api-key": "tcld-key", "worker-config.toml": "[worker]\nmax_cached_workflows = 300\n"}
    resolved = {name: interpolate(value or "", host) for name, value in environment(service) if value is not None}
    for name, value in list(resolved.items()):
        if value.startswith("/run/secrets/"):
            local = tmp_path / value.rsplit("/", 1)[1]
            local.write_text(files.get(local.name, "PEM"))
            local.chmod(0o600)
            resolved[name] = str(local)
    resolved.pop("ADEFLOW_CODEC_KEY_FILE")  # read by the codec, not by Settings
    settings = Settings.from_env(resolved)
    assert settings.temporal.api_key == "tcld-key" and settings.temporal.max_cached_workflows == 300
    assert settings.temporal.tls and settings.temporal.tls_cert_file.startswith(str(tmp_path))


def test_the_compose_version_the_file_needs_is_stated() -> None:
    text = COMPOSE.read_text()
    assert "required: false" in text, "the file uses depends_on.required (Compose v2.20.0)"
    assert "Docker Compose v2.20.0 or later" in text
    assert "Docker Compose v2.20.0 or later" in README


def test_the_ui_sign_in_override_requires_its_settings_and_keeps_the_secret_out() -> None:
    ui = dict(environment(services(ROOT / "deploy" / "compose.ui-auth.yml")["temporal-ui"]))
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true"
    assert ui["TEMPORAL_AUTH_CLIENT_SECRET"] is None, "the client secret passes through by name only"
    for required in ("TEMPORAL_AUTH_PROVIDER_URL", "TEMPORAL_AUTH_CLIENT_ID", "TEMPORAL_AUTH_CALLBACK_URL"):
        with pytest.raises(Unset):
            interpolate(ui[required] or "", {})
        assert interpolate(ui[required] or "", {required: "https://x"}) == "https://x"
