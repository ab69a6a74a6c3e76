"""``adeflow worker --check`` as an operator runs it, against real dev servers from the venv (nothing downloaded)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from adeflow.cli.devserver import DevServer, free_port
from adeflow.inputs.settings import SEARCH_ATTRIBUTES

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

VENV_BIN = Path(sys.executable).parent


def check(address: str, namespace: str = "default") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
    env |= {"ADEFLOW_TEMPORAL_ADDRESS": address, "ADEFLOW_TEMPORAL_NAMESPACE": namespace}
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
    assert done.stdout.rstrip().endswith("adeflow can run here")


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
