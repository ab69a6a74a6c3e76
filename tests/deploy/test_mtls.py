"""deploy/compose.mtls.yml and deploy/mtls/make-certs.sh: mTLS to the bundled Temporal server.

The certificates are made by the script (openssl), the override is checked as Compose would merge it with the
base file, and the callers' settings are used for real: the worker's (adeflow's client, rustls) and the set-up
job's (the ``temporal`` CLI) against a dev server behind a proxy that requires a client certificate signed by the
stack's CA, as the frontend does with ``TEMPORAL_TLS_REQUIRE_CLIENT_AUTH``; a caller without one is refused.
"""

from __future__ import annotations

import asyncio
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from temporalio.testing import WorkflowEnvironment

from adeflow.inputs.settings import Settings, TemporalSettings
from tests.support.deployfiles import ROOT, environment, interpolate, load_compose
from tests.support.servers import VENV_BIN
from tests.support.tls_proxy import mtls_proxy
from worker.check import check_temporal

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

OVERRIDE = ROOT / "deploy" / "compose.mtls.yml"
SCRIPT = ROOT / "deploy" / "mtls" / "make-certs.sh"
CALLERS = {"temporal-setup": "admin", "temporal-ui": "ui", "worker": "worker", "worker-create": "worker"}
"""Each service that calls the frontend, and the certificate it presents."""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stack") / "secrets" / "tls"
    done = subprocess.run(["sh", str(SCRIPT), str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out


def base() -> dict[str, Any]:
    return load_compose()


def override() -> dict[str, Any]:
    return load_compose(OVERRIDE)


def merged_environment(name: str) -> dict[str, str | None]:
    """A service's environment as Compose merges the override into the base file (the override's keys win)."""
    merged = dict(environment(base()["services"][name]))
    merged.update(environment(override()["services"].get(name, {})))
    return merged


def mounted(name: str) -> dict[str, str]:
    """/run/secrets path -> the secret's host file (relative to the project), for a service with the override."""
    files = {**base()["secrets"], **override()["secrets"]}
    paths = {}
    for service in (base()["services"][name], override()["services"].get(name, {})):
        for entry in service.get("secrets") or []:
            source = entry if isinstance(entry, str) else entry["source"]
            target = source if isinstance(entry, str) else entry.get("target", source)
            paths[f"/run/secrets/{target}"] = files[source]["file"]
    return paths


def local_environment(name: str, certs: Path) -> dict[str, str]:
    """The service's merged environment, its /run/secrets paths mapped to the files the script made."""
    env = {}
    for variable, value in merged_environment(name).items():
        if value is None:
            continue
        value = interpolate(value, {})
        if value.startswith("/run/secrets/"):
            source = mounted(name)[value]
            assert source.startswith("./secrets/tls/"), f"{name}: {value} is not one of the stack's certificate files"
            value = str(certs / source.removeprefix("./secrets/tls/"))
        env[variable] = value
    return env


def test_the_script_makes_a_ca_and_one_certificate_per_caller(certs: Path) -> None:
    assert stat.S_IMODE(certs.stat().st_mode) == 0o700
    assert stat.S_IMODE((certs / "ca.key").stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server = x509.load_pem_x509_certificate((certs / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"temporal", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    usages = set(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= usages  # internode calls too
    for caller in set(CALLERS.values()):
        cert = x509.load_pem_x509_certificate((certs / f"{caller}.pem").read_bytes())
        assert cert.issuer == ca.subject
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.CLIENT_AUTH
        ]
    before = (certs / "ca.pem").read_bytes()
    subprocess.run(["sh", str(SCRIPT), str(certs)], check=True, capture_output=True, timeout=60)
    assert (certs / "ca.pem").read_bytes() == before, "a rerun keeps the CA (and so every certificate it signed)"


def test_the_server_requires_client_certificates_from_the_stacks_ca() -> None:
    env = merged_environment("temporal")
    assert env["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    assert env["TEMPORAL_TLS_FRONTEND_CERT"] == env["TEMPORAL_TLS_SERVER_CERT"] == "/run/secrets/temporal-server-cert"
    assert env["TEMPORAL_TLS_CLIENT1_CA_CERT"] == env["TEMPORAL_TLS_SERVER_CA_CERT"] == "/run/secrets/temporal-ca"
    assert mounted("temporal")["/run/secrets/temporal-server-key"] == "./secrets/tls/server.key"
    assert env["TEMPORAL_TLS_FRONTEND_SERVER_NAME"] == env["TEMPORAL_TLS_INTERNODE_SERVER_NAME"] == "temporal"


@pytest.mark.parametrize("name", CALLERS)
def test_each_caller_mounts_its_own_certificate_and_no_other_key(name: str, certs: Path) -> None:
    env = local_environment(name, certs)
    keys = {Path(path).name for path in env.values() if path.endswith(".key")}
    assert keys == {f"{CALLERS[name]}.key"}, f"{name} must present {CALLERS[name]}.pem and hold no other key"
    files = set(mounted(name).values())
    assert "./secrets/tls/ca.key" not in files and "./secrets/tls/server.key" not in files
    for path in env.values():
        if path.startswith(str(certs)):
            assert Path(path).is_file(), f"{name}: {path} is not a file the script makes"


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=150)


async def test_the_callers_settings_pass_mtls_and_a_caller_without_a_certificate_is_refused(certs: Path) -> None:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(VENV_BIN / "temporal"))
    try:
        upstream = env.client.service_client.config.target_host
        async with mtls_proxy(certs / "server.pem", certs / "server.key", certs / "ca.pem", upstream) as address:
            # The set-up job: the temporal CLI with the override's variables creates the search attributes.
            setup = local_environment("temporal-setup", certs)
            setup.update(PATH=f"{VENV_BIN}:/usr/bin:/bin", TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE="default")
            script = interpolate(base()["services"]["temporal-setup"]["command"][0], {})
            done = await asyncio.to_thread(_run, script, setup)
            assert done.returncode == 0, done.stdout + done.stderr
            # Both workers: adeflow's own client, with the settings the container would read.
            for worker in ("worker", "worker-create"):
                settings = Settings.from_env({**local_environment(worker, certs), "ADEFLOW_TEMPORAL_ADDRESS": address})
                assert settings.temporal.tls and settings.temporal.tls_server_name == "temporal"
                lines: list[str] = []
                assert await check_temporal(settings.temporal, lines.append), "\n".join(lines)
            # Without a client certificate the frontend refuses the connection.
            anonymous = TemporalSettings(address=address, tls=True, tls_ca_file=str(certs / "ca.pem"))
            refused: list[str] = []
            assert not await check_temporal(anonymous, refused.append), "\n".join(refused)
    finally:
        await env.shutdown()
