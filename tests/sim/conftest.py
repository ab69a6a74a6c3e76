"""Shared fixtures: one simulator per module, driven by the real Azure SDK clients.

The clock is nearly frozen between steps (so assertions see a stable world) and sped up only while an
SDK poller waits for an LRO; tests move time with ``advance_to`` (tests/support/frozen_sim.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.frozen_sim import FLEET, FROZEN, Sim


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    server = SimServer(FleetSpec.model_validate(FLEET), clock=SimClock(scale=FROZEN))
    server.start_in_thread()
    try:
        yield Sim(server)
    finally:
        server.stop()
