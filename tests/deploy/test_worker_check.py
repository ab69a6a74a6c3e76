"""``adeflow worker --check`` as an operator runs it, against real dev servers from the venv (nothing downloaded)."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from adeflow.cli.devserver import DevServer, free_port
from adeflow.inputs.settings import SEARCH_ATTRIBUTES
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.fleets import fleet_dict, vm

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module", autouse=True)
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    """The ARM simulator the checked worker reads from (its settings go to every ``check`` below)."""
    server = SimServer(FleetSpec.model_validate(fleet_dict([vm("check-01")])), state_dir=tmp_path_factory.mktemp("sim"))
    server.start_in_thread()
    ARM.update(
        {
            "ADEFLOW_ARM_ENDPOINT": server.base_url,
            "ADEFLOW_ARM_CA_FILE": str(server.ca_path),
            "ADEFLOW_ARM_STATIC_TOKEN": "sim-token",
        }
    )
    yield server
    server.stop()


ARM: dict[str, str] = {}
"""The simulator's settings, set by the ``sim`` fixture."""


def check(address: str, namespace: str = "default", **arm: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADEFLOW_", "AZURE_"))}
    env |= {"ADEFLOW_TEMPORAL_ADDRESS": address, "ADEFLOW_TEMPORAL_NAMESPACE": namespace}
    env |= {name: value for name, value in (ARM | arm).items() if value is not None}
    return subprocess.run(
        [str(VENV_BIN / "adeflow"), "worker", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    server = await DevServer.start(tmp_path_factory.mktemp("temporal"), ui=False)
    yield server
    server.stop()


async def test_check_passes_against_a_ready_dev_server(dev_server: DevServer) -> None:
    done = check(dev_server.address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Checking Temporal at {dev_server.address} (namespace default, TLS off)" in done.stdout
    assert "ok    connection: connected" in done.stdout
    assert "ok    namespace default: reachable" in done.stdout
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert f"ok    search attribute {name}: {kind}" in done.stdout
    assert f"Checking Azure Resource Manager at {ARM['ADEFLOW_ARM_ENDPOINT']} (ADEFLOW_ARM_STATIC_TOKEN)" in done.stdout
    assert "ok    identity: a static token (ADEFLOW_ARM_STATIC_TOKEN)" in done.stdout
    assert re.search(
        r"ok    ARM read: GET /subscriptions answered in [\d.]+ s: 1 subscription\(s\) visible", done.stdout
    )
    assert "sim-token" not in done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("adeflow can run here")


async def test_check_names_the_identity_from_its_token_and_never_prints_the_token(
    dev_server: DevServer, sim: SimServer
) -> None:
    claims = {"tid": "72f988bf-0000-0000-0000-00000000aaaa", "appid": "11111111-2222-3333-4444-555555555555"}
    claims |= {"oid": "99999999-8888-7777-6666-555555555555"}
    token = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in ({}, claims))
    token += ".c2lnbmF0dXJl"
    done = check(dev_server.address, ADEFLOW_ARM_STATIC_TOKEN=token)
    assert done.returncode == 0, done.stdout
    assert (
        "ok    identity: a static token (ADEFLOW_ARM_STATIC_TOKEN) (tenant 72f988bf-0000-0000-0000-00000000aaaa, "
        "client 11111111-2222-3333-4444-555555555555, object 99999999-8888-7777-6666-555555555555)"
    ) in done.stdout
    assert token not in done.stdout + done.stderr and "c2lnbmF0dXJl" not in done.stdout
    assert any(r.operation == "Subscriptions_List" and r.status == 200 for r in sim.requests())


async def test_check_fails_when_the_identity_gets_no_token(dev_server: DevServer) -> None:
    """DefaultAzureCredential, limited to the environment credential, with nothing in the environment."""
    done = check(
        dev_server.address,
        ADEFLOW_ARM_STATIC_TOKEN=None,
        ADEFLOW_ARM_SCOPE="https://management.azure.com/.default",  # the simulator may get an identity token
        AZURE_TOKEN_CREDENTIALS="EnvironmentCredential",
    )
    assert done.returncode == 1, done.stdout
    assert "(DefaultAzureCredential, scope https://management.azure.com/.default)" in done.stdout
    assert "FAIL  identity: no token for https://management.azure.com/.default: " in done.stdout
    assert "fix: give the worker an identity DefaultAzureCredential finds" in done.stdout
    assert done.stdout.rstrip().endswith("1 problem(s): run the fix commands above, then check again")


async def test_check_fails_fast_when_arm_is_unreachable(dev_server: DevServer) -> None:
    started = time.monotonic()
    done = check(dev_server.address, ADEFLOW_ARM_ENDPOINT=f"https://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 20
    assert done.returncode == 1, done.stdout
    assert "FAIL  ARM read: cannot reach https://127.0.0.1:" in done.stdout
    assert "fix: check ADEFLOW_ARM_ENDPOINT, ADEFLOW_ARM_CA_FILE and HTTPS_PROXY/NO_PROXY" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("arm", "message"),
    [
        ({"ADEFLOW_ARM_ENDPOINT": None}, "ADEFLOW_ARM_STATIC_TOKEN is set and ADEFLOW_ARM_ENDPOINT=https://management"),
        ({"ADEFLOW_ARM_STATIC_TOKEN": None}, "is not Azure Resource Manager, and DefaultAzureCredential would send"),
    ],
)
def test_check_refuses_a_credential_for_the_wrong_kind_of_endpoint(arm: dict[str, str | None], message: str) -> None:
    done = check(f"127.0.0.1:{free_port()}", **arm)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_check_fails_fast_and_clearly_on_a_wrong_address() -> None:
    started = time.monotonic()
    done = check(f"127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 15  # the CLI's start-up included: no hang, no retry loop
    assert done.returncode == 1
    assert "FAIL  connection: cannot reach 127.0.0.1:" in done.stdout
    assert "connection refused: nothing listens at that address" in done.stdout
    assert "fix: check ADEFLOW_TEMPORAL_ADDRESS" in done.stdout
    assert "Traceback" not in done.stderr and "panicked" not in done.stderr


async def test_check_fails_on_a_missing_namespace(dev_server: DevServer) -> None:
    done = check(dev_server.address, namespace="no-such-namespace")
    assert done.returncode == 1
    assert "FAIL  namespace no-such-namespace: does not exist" in done.stdout
    assert f"fix: temporal operator namespace create --address {dev_server.address}" in done.stdout


async def test_check_names_a_missing_or_mistyped_search_attribute_and_the_fix_works() -> None:
    present = [SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES if n not in ("AdeVolumeType", "AdePhase")]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=[*present, SearchAttributeKey.for_text("AdePhase")],
    )
    try:
        address = env.client.service_client.config.target_host
        done = check(address)
        assert done.returncode == 1, done.stdout
        assert "FAIL  search attribute AdeVolumeType: not registered in namespace default" in done.stdout
        assert "FAIL  search attribute AdePhase: registered as Text, adeflow needs Keyword" in done.stdout
        expected = (
            "temporal operator search-attribute create --name AdeVolumeType --type Keyword "
            f"--address {address} --namespace default"
        )
        assert f"fix: {expected}" in done.stdout
        assert "fix: temporal operator search-attribute remove --name AdePhase --yes" in done.stdout
        assert "2 problem(s)" in done.stdout

        # The printed fixes are exact commands: run them with the venv's CLI, then the check passes.
        for command in re.findall(r"^\s+(?:fix|then): (.+)$", done.stdout, re.MULTILINE):
            argv = shlex.split(command)
            subprocess.run([str(VENV_BIN / argv[0]), *argv[1:]], check=True, capture_output=True, timeout=60)
        again = check(address)
        assert again.returncode == 0, again.stdout
    finally:
        await env.shutdown()
