"""The real ``adeflow worker`` process beats, ``python -m worker.healthcheck`` passes, and fails once it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adeflow.cli.devserver import DevServer, free_port
from worker.health import check_beat

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

VENV_BIN = Path(sys.executable).parent


async def test_a_running_worker_is_healthy_and_a_stopped_one_is_not(tmp_path: Path) -> None:
    server = await DevServer.start(tmp_path / "temporal", ui=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
    env |= {
        "ADEFLOW_TEMPORAL_ADDRESS": server.address,
        "ADEFLOW_TASK_QUEUE": "health",
        "ADEFLOW_HEALTH_FILE": str(tmp_path / "alive"),
        "ADEFLOW_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
        "ADEFLOW_LOG_FORMAT": "json",
    }
    worker = subprocess.Popen(
        [str(VENV_BIN / "adeflow"), "worker"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def healthcheck() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "worker.healthcheck"], env=env, capture_output=True, text=True, timeout=60
        )

    try:
        deadline = time.monotonic() + 60
        while check_beat(tmp_path / "alive") is not None:
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "the worker wrote no health beat within 60 s"
            time.sleep(0.2)
        healthy = healthcheck()
        assert healthy.returncode == 0, healthy.stderr
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        stopped = healthcheck()
        assert stopped.returncode == 1 and "no health beat" in stopped.stderr
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        server.stop()
