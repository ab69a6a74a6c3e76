"""Worker health: the beat the Python event loop rewrites, and the check that fails when it goes stale."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adeflow.cli.devserver import free_port
from adeflow.inputs.settings import Settings
from worker.health import MAX_AGE_S, beat, check_beat, write_beat

pytestmark = [pytest.mark.unit, pytest.mark.deploy]


def test_a_fresh_beat_passes_and_a_stale_or_missing_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    assert "no health beat" in (check_beat(path) or "")
    write_beat(path, now=1000.0)
    assert check_beat(path, now=1000.0 + MAX_AGE_S) is None
    stale = check_beat(path, now=1000.0 + MAX_AGE_S + 5)
    assert stale is not None and "35 s old" in stale and "event loop is blocked" in stale
    path.write_text("garbage")
    assert "unreadable" in (check_beat(path) or "")


async def test_a_blocked_event_loop_fails_the_check(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    task = asyncio.create_task(beat(path, lambda: True, every_s=0.05))
    try:
        await asyncio.sleep(0.2)
        assert check_beat(path, max_age_s=0.3) is None
        time.sleep(0.5)  # a synchronous call on the loop: no task runs, so nothing refreshes the beat
        problem = check_beat(path, max_age_s=0.3)
        assert problem is not None and "event loop is blocked" in problem
        await asyncio.sleep(0.2)  # the loop runs again: so does the beat
        assert check_beat(path, max_age_s=0.3) is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not path.exists()  # a stopped worker leaves no beat behind


async def test_the_beat_stops_when_the_sdk_worker_stops(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    running = True
    task = asyncio.create_task(beat(path, lambda: running, every_s=0.05))
    try:
        await asyncio.sleep(0.2)
        assert check_beat(path, max_age_s=0.3) is None
        running = False  # e.g. the pollers ended with a fatal error while the loop itself is fine
        await asyncio.sleep(0.5)
        assert check_beat(path, max_age_s=0.3) is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def healthcheck(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "worker.healthcheck"],
        env=clean | {f"ADEFLOW_{k.upper()}": v for k, v in env.items()},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_health_check_command(tmp_path: Path) -> None:
    path = tmp_path / "alive"
    write_beat(path, now=time.time() - MAX_AGE_S - 10)
    stale = healthcheck(health_file=str(path))
    assert stale.returncode == 1 and "unhealthy: health beat" in stale.stderr and "s old" in stale.stderr
    write_beat(path)
    assert healthcheck(health_file=str(path)).returncode == 0
    # A fresh beat is not enough when the metrics endpoint is configured and does not answer.
    silent = healthcheck(health_file=str(path), metrics_address=f"127.0.0.1:{free_port()}")
    assert silent.returncode == 1 and "metrics endpoint on port" in silent.stderr
    assert "Traceback" not in stale.stderr + silent.stderr


def test_the_worker_and_the_check_agree_on_the_default_file() -> None:
    default = Settings.from_env({}).telemetry.health_file
    assert default.endswith("adeflow-worker.alive")
    assert (
        Settings.from_env({"ADEFLOW_HEALTH_FILE": "/run/adeflow/alive"}).telemetry.health_file == "/run/adeflow/alive"
    )


async def test_an_unwritable_beat_is_a_warning_and_a_failing_check_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = blocker / "alive"  # its parent is a file: every write fails
    task = asyncio.create_task(beat(path, lambda: True, every_s=0.05))
    await asyncio.sleep(0.2)
    assert not task.done()  # still beating (trying), the worker goes on
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert check_beat(path) is not None
