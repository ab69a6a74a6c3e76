"""docker-compose.yml, Dockerfile and .dockerignore, checked without a container engine (none is available here).

What can be checked statically is: the file parses, images are pinned, the worker's command is a real
``adeflow`` command, every ``ADEFLOW_*`` variable it sets is one the settings really read (the set comes from
``adeflow.inputs.settings``, not from a list here), the resolved environment parses into the intended settings, the
search attributes created are exactly ``SEARCH_ATTRIBUTES``, and the set-up script really creates them (run with
the venv's ``temporal`` CLI against a dev server, twice, to prove it is idempotent).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from azure.identity._constants import EnvironmentVariables
from temporalio.testing import WorkflowEnvironment

from adeflow.cli.main import cli
from adeflow.inputs.settings import SEARCH_ATTRIBUTES, Settings, TemporalSettings, setting_names
from tests.support.deployfiles import chain, dockerfile_stages
from worker.check import check_temporal

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SIM_ENV = ROOT / "deploy" / "sim.env"
VENV_BIN = Path(sys.executable).parent

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def worker(compose: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"]["worker"]
    return service


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``$$`` (enough for this file)."""
    text = _INTERPOLATION.sub(lambda m: env.get(m["name"]) or (m["default"] or ""), text)
    return text.replace("$$", "$")


def environment(service: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(name, raw value or None for a pass-through name) for either of compose's two environment syntaxes."""
    env = service.get("environment") or []
    if isinstance(env, dict):
        return [(name, None if value is None else str(value)) for name, value in env.items()]
    pairs: list[tuple[str, str | None]] = []
    for entry in env:
        name, sep, value = str(entry).partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def resolved_worker_env(worker: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    return {name: interpolate(value, env) for name, value in environment(worker) if value is not None}


def pinned(image: str) -> bool:
    """An explicit version tag (at least major.minor, never latest) or a digest."""
    if "@sha256:" in image:
        return True
    _, _, tag = image.rpartition(":")
    return "/" not in tag and tag != "latest" and re.search(r"\d+\.\d+", tag) is not None


def test_compose_parses_and_has_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "worker", "sim"} <= set(
        services
    )
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert "7233:7233" in services["temporal"]["ports"]
    assert "8080:8080" in services["temporal-ui"]["ports"]
    assert services["sim"]["profiles"] == ["sim"]
    assert "update-schema" in services["temporal-schema"]["command"][0]  # the stack sets up its own schema


def test_every_image_is_pinned_to_an_explicit_version(compose: dict[str, Any]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"service {name} names no image (a built service still needs a versioned tag)"
        assert pinned(image), f"service {name}: image {image!r} is not pinned to an explicit version"
        if "build" in service:
            assert image.endswith(f":{version}"), f"service {name}: tag the built image with the package version"
    every = dockerfile_stages()
    for stage in every:
        if stage.base not in {earlier.name for earlier in every}:
            assert pinned(stage.base), f"FROM {stage.base}"


def test_worker_is_scalable(worker: dict[str, Any]) -> None:
    assert "container_name" not in worker
    for port in worker.get("ports", []):
        assert ":" not in str(port), f"worker port {port!r} fixes a host port; --scale worker=N would collide"
    assert worker["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["sim"] == {"condition": "service_healthy", "required": False}


def test_worker_command_is_a_real_adeflow_command(worker: dict[str, Any]) -> None:
    dockerfile = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["adeflow"]' in dockerfile
    assert 'CMD ["worker"]' in dockerfile
    name, *args = worker["command"]
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"`adeflow {name}` does not exist"
    command.make_context(name, list(args))  # raises on an unknown option


def test_worker_environment_names_are_settings_the_worker_reads(worker: dict[str, Any]) -> None:
    known = setting_names()
    identity = {name for name in vars(EnvironmentVariables) if name.startswith("AZURE_")}
    for name, value in environment(worker):
        if name.startswith("ADEFLOW_"):
            assert name in known, f"{name} is not read by Settings.from_env (known: {sorted(known)})"
        elif name.startswith("AZURE_"):
            assert name in identity, f"{name} is not an azure-identity variable"
            assert value is None, f"{name} must pass through from the environment, not carry a value here"
        else:
            pytest.fail(f"worker variable {name} is neither an adeflow setting nor an Azure identity variable")
        for match in _INTERPOLATION.finditer(value or ""):
            assert not match["name"].startswith("ADEFLOW_") or match["name"] in known, match["name"]
    assert set(env_file(SIM_ENV)) - known <= {"COMPOSE_PROFILES", "SIM_SCALE", "SIM_FLEET"}


def test_resolved_worker_environment_gives_the_intended_settings(worker: dict[str, Any], tmp_path: Path) -> None:
    azure = Settings.from_env(resolved_worker_env(worker, {}))
    assert azure.temporal.address == "temporal:7233" and azure.temporal.namespace == "default"
    assert azure.azure.arm_endpoint == "https://management.azure.com" and azure.azure.static_token == ""
    assert azure.telemetry.metrics_address == "0.0.0.0:9464" and azure.telemetry.log_format == "json"
    port = azure.telemetry.metrics_address.rsplit(":", 1)[1]
    assert worker["ports"] == [port]
    assert f"EXPOSE {port}" in DOCKERFILE.read_text()
    assert f"port: {port}" in (ROOT / "deploy" / "prometheus.yml").read_text()

    rehearsal = env_file(SIM_ENV)
    ca = tmp_path / "azuresim-ca.pem"
    ca.write_text("test CA")
    sim = Settings.from_env({**resolved_worker_env(worker, rehearsal), "ADEFLOW_ARM_CA_FILE": str(ca)})
    assert sim.azure.arm_endpoint == "https://sim:8443" and sim.azure.static_token
    volume = next(v for v in worker["volumes"] if v.startswith("sim-ca:"))
    assert rehearsal["ADEFLOW_ARM_CA_FILE"].startswith(volume.split(":")[1])
    assert rehearsal["COMPOSE_PROFILES"] == "sim"


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
    created = dict(re.findall(r"search-attribute create --name (\w+) --type (\w+)", script))
    assert created == SEARCH_ATTRIBUTES


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


async def test_setup_script_creates_the_search_attributes_and_can_run_again(compose: dict[str, Any]) -> None:
    """The admin-tools one-shot, run with the venv's temporal CLI against a dev server that has none of them."""
    service = compose["services"]["temporal-setup"]
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(VENV_BIN / "temporal"))
    try:
        address = env.client.service_client.config.target_host
        script = interpolate(service["command"][0], {})
        run_env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "default"}
        for _ in range(2):
            done = subprocess.run(["/bin/sh", "-c", script], env=run_env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        lines: list[str] = []
        assert await check_temporal(TemporalSettings(address=address), lines.append), "\n".join(lines)
    finally:
        await env.shutdown()
