"""What the end-to-end tests share: a real Temporal dev server from the venv, one per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from adeflow.inputs.settings import SEARCH_ATTRIBUTES
from tests.support.servers import VENV_BIN


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
