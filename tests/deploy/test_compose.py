"""docker-compose.yml, Dockerfile and .dockerignore, checked without a container engine (none is available here).

What can be checked statically is: the file parses, images are pinned, the workers' command is a real
``adeflow`` command, every ``ADEFLOW_*`` variable they set is one adeflow really reads (the set comes from
``adeflow.inputs.settings``, not from a list here), the resolved environment parses into the intended settings
(the everyday worker and the create worker), the search attributes created are exactly the product's
(``adeflow.domain.vocabulary``), and the set-up script really creates them (run with the venv's ``temporal`` CLI
against a dev server, twice, to prove it is idempotent, and on a namespace it has just created). The security
properties (bindings, secrets, the UI's mode, the Compose version) are in test_compose_security.py.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
import uuid
from pathlib import Path
from typing import Any

import click
import pytest
from azure.identity._constants import EnvironmentVariables
from temporalio.testing import WorkflowEnvironment

from adeflow.cli.main import cli
from adeflow.domain.vocabulary import SEARCH_ATTRIBUTES
from adeflow.inputs.settings import Settings, TemporalSettings, setting_names
from tests.support.deployfiles import (
    DOCKERFILE,
    INTERPOLATION,
    ROOT,
    chain,
    dockerfile_stages,
    env_file,
    environment,
    interpolate,
    load_compose,
)
from tests.support.servers import VENV_BIN
from worker.check import check_temporal

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

SIM_ENV = ROOT / "deploy" / "sim.env"
WORKERS = ("worker", "worker-create")
CODEC_VARIABLES = {"ADEFLOW_CODEC_KEYS", "ADEFLOW_CODEC_KEY_FILE"}
"""Read by the payload codec (adeflow/client/codec.py) rather than by Settings."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_compose()
    assert isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def worker(compose: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"]["worker"]
    return service


def resolved_env(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    return {name: interpolate(value, env) for name, value in environment(service) if value is not None}


def pinned(image: str) -> bool:
    """An explicit version tag (at least major.minor, never latest) or a digest."""
    if "@sha256:" in image:
        return True
    _, _, tag = image.rpartition(":")
    return "/" not in tag and tag != "latest" and re.search(r"\d+\.\d+", tag) is not None


def test_compose_parses_and_has_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    stack = {"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "worker", "worker-create"}
    assert stack | {"sim"} <= set(services)
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert [p.rsplit(":", 1)[1] for p in services["temporal"]["ports"]] == ["7233"]
    assert [p.rsplit(":", 1)[1] for p in services["temporal-ui"]["ports"]] == ["8080"]
    assert services["sim"]["profiles"] == ["sim"] and services["worker-create"]["profiles"] == ["create"]
    assert "update-schema" in services["temporal-schema"]["command"][0]  # the stack sets up its own schema


def test_every_image_is_pinned_to_an_explicit_version(compose: dict[str, Any]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    targets = {stage.name for stage in dockerfile_stages()}
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"service {name} names no image (a built service still needs a versioned tag)"
        assert pinned(image), f"service {name}: image {image!r} is not pinned to an explicit version"
        if "build" in service:
            assert image.endswith(f":{version}"), f"service {name}: tag the built image with the package version"
            assert service["build"]["target"] in targets, f"service {name}: no Dockerfile target {service['build']}"
    assert compose["services"]["sim"]["build"]["target"] == "simulator"
    assert {compose["services"][name]["build"]["target"] for name in WORKERS} == {"worker"}
    every = dockerfile_stages()
    for stage in every:
        if stage.base not in {earlier.name for earlier in every}:
            assert pinned(stage.base), f"FROM {stage.base}"


@pytest.mark.parametrize("name", WORKERS)
def test_workers_are_scalable(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert "container_name" not in service
    for port in service.get("ports", []):
        host_port = interpolate(str(port), {}).rsplit(":", 2)[1]
        assert not host_port, f"{name} port {port!r} fixes a host port; --scale {name}=N would collide"
    assert service["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["sim"] == {"condition": "service_healthy", "required": False}


@pytest.mark.parametrize("name", WORKERS)
def test_worker_command_is_a_real_adeflow_command(compose: dict[str, Any], name: str) -> None:
    dockerfile = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["adeflow"]' in dockerfile
    assert 'CMD ["worker"]' in dockerfile
    command_name, *args = compose["services"][name]["command"]
    command = cli.get_command(click.Context(cli), command_name)
    assert command is not None, f"`adeflow {command_name}` does not exist"
    command.make_context(command_name, list(args))  # raises on an unknown option


@pytest.mark.parametrize("name", WORKERS)
def test_worker_environment_names_are_settings_the_worker_reads(compose: dict[str, Any], name: str) -> None:
    known = setting_names() | CODEC_VARIABLES
    codec_source = (ROOT / "adeflow" / "client" / "codec.py").read_text()
    assert all(variable in codec_source for variable in CODEC_VARIABLES)
    identity = {variable for variable in vars(EnvironmentVariables) if variable.startswith("AZURE_")}
    for variable, value in environment(compose["services"][name]):
        if variable.startswith("ADEFLOW_"):
            assert variable in known, f"{variable} is not read by Settings.from_env (known: {sorted(known)})"
        elif variable.startswith("AZURE_"):
            assert variable in identity, f"{variable} is not an azure-identity variable"
            # A value here is never a credential: a pass-through name, a mounted secret's path, or a variable.
            certificates = {"SECRET_AZURE_CERTIFICATE": "x", "SECRET_AZURE_CREATE_CERTIFICATE": "x"}
            resolved = interpolate(value or "", certificates)
            assert value is None or resolved.startswith("/run/secrets/") or resolved == "", (variable, value)
        else:
            pytest.fail(f"worker variable {variable} is neither an adeflow setting nor an Azure identity variable")
        for match in INTERPOLATION.finditer(value or ""):
            assert not match["name"].startswith("ADEFLOW_") or match["name"] in known, match["name"]
    assert set(env_file(SIM_ENV)) - known <= {"COMPOSE_PROFILES", "SIM_SCALE", "SIM_FLEET"}


def test_resolved_worker_environment_gives_the_intended_settings(
    compose: dict[str, Any], worker: dict[str, Any], tmp_path: Path
) -> None:
    azure = Settings.from_env(resolved_env(worker, {}))
    assert azure.temporal.address == "temporal:7233" and azure.temporal.namespace == "default"
    assert azure.azure.arm_endpoint == "https://management.azure.com" and azure.azure.static_token == ""
    assert azure.telemetry.metrics_address == "0.0.0.0:9464" and azure.telemetry.log_format == "json"
    assert not azure.temporal.tls and not azure.temporal.api_key
    port = azure.telemetry.metrics_address.rsplit(":", 1)[1]
    assert [interpolate(p, {}).rsplit(":", 1)[1] for p in worker["ports"]] == [port]
    assert f"EXPOSE {port}" in DOCKERFILE.read_text()
    assert f"port: {port}" in (ROOT / "deploy" / "prometheus.yml").read_text()
    assert "worker-create" in (ROOT / "deploy" / "prometheus.yml").read_text()

    rehearsal = env_file(SIM_ENV)
    ca = tmp_path / "azuresim-ca.pem"
    ca.write_text("test CA")
    sim = Settings.from_env({**resolved_env(worker, rehearsal), "ADEFLOW_ARM_CA_FILE": str(ca)})
    assert sim.azure.arm_endpoint == "https://sim:8443" and sim.azure.static_token
    volume = next(v for v in worker["volumes"] if v.startswith("sim-ca:"))
    assert rehearsal["ADEFLOW_ARM_CA_FILE"].startswith(volume.split(":")[1])
    assert set(rehearsal["COMPOSE_PROFILES"].split(",")) == {"sim", "create"}


def test_the_two_workers_split_the_roles_on_two_queues(compose: dict[str, Any]) -> None:
    """The everyday worker never registers what writes VMs; the create worker polls the queue the CLI starts
    create-from-VHD runs on, and gets its own Azure client id."""
    everyday = Settings.from_env(resolved_env(compose["services"]["worker"], {})).temporal
    create = Settings.from_env(resolved_env(compose["services"]["worker-create"], {})).temporal
    assert (everyday.worker_role, create.worker_role) == ("encrypt", "create")
    assert everyday.task_queue == create.task_queue != everyday.create_queue == create.create_queue
    env = dict(environment(compose["services"]["worker-create"]))
    assert interpolate(env["AZURE_CLIENT_ID"] or "", {"CREATE_AZURE_CLIENT_ID": "c1"}) == "c1"
    assert "AZURE_CLIENT_SECRET" not in env, "the create worker must not inherit the everyday worker's secret"


def test_simulator_service_serves_what_the_worker_is_pointed_at(compose: dict[str, Any]) -> None:
    sim = compose["services"]["sim"]
    args = [interpolate(str(a), env_file(SIM_ENV)) for a in sim["command"]]
    assert args[:2] == ["sim", "serve"]
    command = cli.get_command(click.Context(cli), "sim")
    assert isinstance(command, click.Group)
    serve = command.get_command(click.Context(command), "serve")
    assert serve is not None
    # The image has the checkout's examples/ under /app; click checks that the fleet file exists.
    local = [str(ROOT / a.removeprefix("/app/")) if a.startswith("/app/") else a for a in args]
    options = serve.make_context("serve", local[2:]).params
    assert options["host"] == "0.0.0.0" and "sim" in options["tls_names"]
    assert env_file(SIM_ENV)["ADEFLOW_ARM_ENDPOINT"] == f"https://sim:{options['port']}"
    assert options["state_dir"] == Path(env_file(SIM_ENV)["ADEFLOW_ARM_CA_FILE"]).parent
    assert "COPY examples ./examples" in DOCKERFILE.read_text() and "WORKDIR /app" in DOCKERFILE.read_text()


def test_search_attributes_created_match_the_product(compose: dict[str, Any]) -> None:
    script = compose["services"]["temporal-setup"]["command"][0]
    created = dict(re.findall(r"^\s*retry add (\w+) (\w+)$", script, re.MULTILINE))
    assert created == SEARCH_ATTRIBUTES, "temporal-setup must register every attribute of adeflow.domain.vocabulary"


def test_dockerfile_runs_as_non_root_with_a_health_check_and_without_dev_dependencies() -> None:
    text = DOCKERFILE.read_text()
    for target in ("worker", "simulator"):
        instructions = [i for stage in chain(dockerfile_stages(), target) for i in stage.instructions]
        users = [args for kw, args in instructions if kw == "USER"]
        assert users and users[-1].split(":")[0] not in ("root", "0"), f"target {target} runs as root"
        assert any(kw == "HEALTHCHECK" and "CMD " in args for kw, args in instructions), target
    pip_lines = [line for line in text.splitlines() if line.startswith("RUN ") and " pip " in line]
    assert pip_lines and not any("[dev]" in line or "index-url" in line for line in pip_lines), pip_lines
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*")] == "*", "the build context should be an allowlist (no .env, no .venv)"
    assert {"!requirements.lock", "!requirements-sim.lock", "!requirements-build.lock"} <= set(ignore)


def run_setup(script: str, address: str, namespace: str, extra: dict[str, str] | None = None) -> None:
    env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": namespace}
    done = subprocess.run(
        ["/bin/sh", "-c", script], env={**env, **(extra or {})}, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_setup_script_creates_the_search_attributes_and_can_run_again(compose: dict[str, Any]) -> None:
    """The admin-tools one-shot, run with the venv's temporal CLI against a dev server: on the existing default
    namespace twice (idempotent), and on one it creates, whose search-attribute calls fail for a few seconds
    ("Namespace ... is not found": the first try failed there before the script waited for it)."""
    service = compose["services"]["temporal-setup"]
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(VENV_BIN / "temporal"))
    try:
        address = env.client.service_client.config.target_host
        script = interpolate(service["command"][0], {})
        fresh = f"fresh-{uuid.uuid4().hex[:8]}"
        for namespace in ("default", "default", fresh):
            run_setup(script, address, namespace)
            lines: list[str] = []
            settings = TemporalSettings(address=address, namespace=namespace)
            assert await check_temporal(settings, lines.append), "\n".join(lines)
    finally:
        await env.shutdown()
