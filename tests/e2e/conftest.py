"""What the end-to-end tests share: a real Temporal dev server from the venv, one per test module."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from adeflow.inputs.settings import SEARCH_ATTRIBUTES
from tests.support.servers import VENV_BIN, Run


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (schedules, visibility, task queue pollers), started once for the module from the venv's
    ``temporal``, with adeflow's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTES],
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"],
    )
    yield env
    await env.shutdown()


ADEFLOW = Path(sys.executable).parent / "adeflow"


@pytest.fixture
def adeflow(dev_env: WorkflowEnvironment) -> Run:
    """``adeflow ARGS`` against the dev server, configured by ADEFLOW_* variables only; ``queue`` is its
    ADEFLOW_TASK_QUEUE, ``env`` more variables. A bounded wait: a command that hangs fails the test, not stalls it."""
    base = {
        **os.environ,
        "ADEFLOW_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "ADEFLOW_TEMPORAL_NAMESPACE": dev_env.client.namespace,
    }
    base.pop("ADEFLOW_CONFIG_FILE", None)

    async def run(
        *args: str, queue: str = "adeflow", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = await asyncio.to_thread(
            subprocess.run,
            [str(ADEFLOW), *args],
            env={**base, "ADEFLOW_TASK_QUEUE": queue, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        return done

    return run
