"""SIGTERM (``kill``, ``timeout``, an orchestrator) stops adeflow's long-running commands as cleanly as Ctrl-C: no
process they started is left running and no temporary directory is left behind (issue 17)."""

from __future__ import annotations

import base64
import os
import signal
from pathlib import Path

import pytest

from adeflow.cli.devserver import free_port
from tests.support.processes import Command, alive, descendants, group_members

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "demo-fleet.yaml"


@pytest.fixture
def tmpdir_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of a command whose temporary files go to a directory of the test's own."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
    return {**env, "TMPDIR": str(temp)}, temp


def terminate(command: Command, timeout_s: float = 60) -> tuple[int, set[int]]:
    """SIGTERM to the command (only to it, as ``kill`` or ``timeout`` send it); its exit code and what it had
    started."""
    started = descendants(command.process.pid)
    command.process.send_signal(signal.SIGTERM)
    try:
        code = command.process.wait(timeout=timeout_s)
    finally:
        command.stop()  # nothing of the test outlives it, whatever the command did
    return code, started


def assert_nothing_left(command: Command, started: set[int], temp: Path) -> None:
    assert [pid for pid in started if alive(pid)] == [], "processes the command started outlived it"
    assert group_members(command.process.pid) == set()
    assert list(temp.iterdir()) == [], f"left behind: {list(temp.iterdir())}"


def test_sigterm_in_the_middle_of_the_demo_stops_its_dev_server_and_removes_its_directory(
    tmp_path: Path, tmpdir_env: tuple[dict[str, str], Path]
) -> None:
    env, temp = tmpdir_env
    demo = Command.start("demo", "--target-seconds", "5", env=env, cwd=tmp_path)
    demo.wait_for("canary first", timeout_s=120)  # servers and worker up, the rollout running
    assert any("temporal" in Path(f"/proc/{pid}/cmdline").read_text() for pid in descendants(demo.process.pid))
    code, started = terminate(demo)
    assert code == 1 and "interrupted; everything the demo started has been stopped" in demo.output, demo.output
    assert "Traceback" not in demo.output
    assert_nothing_left(demo, started, temp)


def test_sigterm_stops_the_simulator_and_removes_its_certificate_directory(
    tmp_path: Path, tmpdir_env: tuple[dict[str, str], Path]
) -> None:
    env, temp = tmpdir_env
    sim = Command.start("sim", "serve", "--fleet", str(FLEET), env=env, cwd=tmp_path)
    sim.wait_for("ca_file:", timeout_s=60)
    assert list(temp.iterdir()), "the simulator keeps its CA in a temporary directory"
    code, started = terminate(sim)
    assert code == 0, sim.output
    assert "Traceback" not in sim.output
    assert_nothing_left(sim, started, temp)


def test_sigterm_stops_the_codec_server(tmp_path: Path, tmpdir_env: tuple[dict[str, str], Path]) -> None:
    env, temp = tmpdir_env
    env = {
        **env,
        "ADEFLOW_CODEC_KEYS": f"k1:{base64.b64encode(bytes(32)).decode()}",
        "ADEFLOW_CODEC_SERVER_TOKEN": "test-token-0123456789abcdef",  # for a codec server that requires one
        "ADEFLOW_TEMPORAL_UI": "http://127.0.0.1:1",
    }
    server = Command.start("codec-server", "--port", str(free_port()), env=env, cwd=tmp_path)
    server.wait_for("codec server on", timeout_s=60)
    code, started = terminate(server, timeout_s=30)
    assert code == 0, server.output
    assert "Traceback" not in server.output
    assert_nothing_left(server, started, temp)
