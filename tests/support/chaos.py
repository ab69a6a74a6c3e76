"""Real processes for the chaos tests: a Temporal dev server that can be stopped and restarted on the same port and
database file, and ``adeflow worker`` subprocesses that can be SIGKILLed. Plus the side-effect counts read from
the simulator's request log."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from adeflow.cli.devserver import dev_server_args, free_port, temporal_cli
from azuresim.requestlog import RequestRecord
from azuresim.server import SimServer

ADEFLOW = Path(sys.executable).parent / "adeflow"


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {timeout_s:.0f}s: {what}")
        await asyncio.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], sig: int, timeout_s: float = 15.0) -> None:
    """Signal the process group (the process and anything it started); SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@dataclass
class TemporalDev:
    """The dev server binary on a fixed port and database file, so a restart comes back where it was."""

    state_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 60.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = (self.state_dir / "temporal.log").open("ab")
        self.process = subprocess.Popen(
            [str(temporal_cli()), *dev_server_args(self.state_dir / "temporal.sqlite", self.port, None)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        process = self.process

        async def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with code {process.returncode}")
            try:
                await Client.connect(self.address)
            except RuntimeError:
                return False
            return True

        await eventually(ready, f"dev server on {self.address}", timeout_s)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGTERM)


@dataclass
class WorkerProcess:
    """``adeflow worker`` as an operator runs it, configured by ADEFLOW_* variables only."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @staticmethod
    async def start(
        log_path: Path, temporal: str, task_queue: str, sim: SimServer, timeout_s: float = 60.0
    ) -> WorkerProcess:
        env = {
            **os.environ,
            "ADEFLOW_TEMPORAL_ADDRESS": temporal,
            "ADEFLOW_TASK_QUEUE": task_queue,
            "ADEFLOW_ARM_ENDPOINT": sim.base_url,
            "ADEFLOW_ARM_CA_FILE": str(sim.ca_path),
            "ADEFLOW_ARM_STATIC_TOKEN": "sim-token",
            "ADEFLOW_LRO_POLL_SECONDS": "0.5",
            "ADEFLOW_LOG_FORMAT": "json",
            "ADEFLOW_LOG_LEVEL": "INFO",
        }
        env.pop("ADEFLOW_CONFIG_FILE", None)
        log = log_path.open("ab")
        process = subprocess.Popen(
            [str(ADEFLOW), "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        worker = WorkerProcess(process, log_path)

        async def started() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            return "worker started" in log_path.read_text(errors="replace")

        try:
            await eventually(started, "worker started", timeout_s)
        except BaseException:
            worker.terminate()
            raise
        return worker

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight activities are simply abandoned."""
        _stop(self.process, signal.SIGKILL)

    def terminate(self) -> None:
        _stop(self.process, signal.SIGTERM)


@dataclass
class Workers:
    """Every worker a test started, so teardown can end them all (by process group)."""

    log_dir: Path
    temporal: str
    task_queue: str
    sim: SimServer
    started: list[WorkerProcess] = field(default_factory=list)

    async def start(self) -> WorkerProcess:
        worker = await WorkerProcess.start(
            self.log_dir / f"worker-{len(self.started)}.log", self.temporal, self.task_queue, self.sim
        )
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.terminate()


# ---------------------------------------------------------------------------------------------- side effects

_SNAPSHOT = re.compile(r"/snapshots/(?P<name>[^/]+)$", re.IGNORECASE)
_EXT = re.compile(r"/virtualMachines/(?P<vm>[^/]+)/extensions/", re.IGNORECASE)
_SEQ = re.compile(r"\bseq=(\S+)")
OK = {200, 201, 202, 204}


@dataclass
class SideEffects:
    """What the workflows asked Azure to change, from the simulator's request log."""

    snapshot_puts: int = 0
    snapshots_created: Counter[str] = field(default_factory=Counter)
    """Per disk (name before ``-ade-``): snapshot PUTs that created a snapshot (202), not re-PUTs of one."""
    snapshot_names: dict[str, set[str]] = field(default_factory=dict)
    enable_puts: Counter[str] = field(default_factory=Counter)
    enable_seqs: dict[str, set[str]] = field(default_factory=dict)
    disable_puts: Counter[str] = field(default_factory=Counter)
    deletes: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    requests: int = 0

    @staticmethod
    def of(records: Iterable[RequestRecord]) -> SideEffects:
        fx = SideEffects()
        for r in records:
            fx.requests += 1
            if r.status == 429:
                fx.throttled += 1
            if r.status not in OK:
                continue
            if r.operation == "Snapshots_CreateOrUpdate" and (m := _SNAPSHOT.search(r.path)):
                disk = m["name"].lower().rsplit("-ade-", 1)[0]
                fx.snapshot_puts += 1
                fx.snapshot_names.setdefault(disk, set()).add(m["name"].lower())
                if r.status == 202:
                    fx.snapshots_created[disk] += 1
            elif (m := _EXT.search(r.path)) and r.method in ("PUT", "DELETE"):
                vm = m["vm"].lower()
                if r.method == "DELETE":
                    fx.deletes[vm] += 1
                elif r.detail.startswith("EnableEncryption"):
                    fx.enable_puts[vm] += 1
                    if seq := _SEQ.search(r.detail):
                        fx.enable_seqs.setdefault(vm, set()).add(seq.group(1))
                elif r.detail.startswith("DisableEncryption"):
                    fx.disable_puts[vm] += 1
        return fx

    def repeated(self) -> list[str]:
        """Side effects done twice: a second snapshot of a disk, a second enable (another sequence version, or
        the same one re-sent), a second disable."""
        found = [f"{d}: {n} snapshots created" for d, n in self.snapshots_created.items() if n > 1]
        found += [f"{d}: snapshots {sorted(names)}" for d, names in self.snapshot_names.items() if len(names) > 1]
        found += [f"{vm}: sequence versions {sorted(s)}" for vm, s in self.enable_seqs.items() if len(s) > 1]
        found += [f"{vm}: {n} enable PUTs" for vm, n in self.enable_puts.items() if n > 1]
        found += [f"{vm}: {n} disable PUTs" for vm, n in self.disable_puts.items() if n > 1]
        return found

    def line(self, case: str, runs: int, extra: str = "") -> str:
        return (
            f"CHAOS {case}: runs {runs}; snapshot PUTs {self.snapshot_puts} "
            f"(created {sum(self.snapshots_created.values())}), "
            f"extension enable PUTs {sum(self.enable_puts.values())}, "
            f"disable PUTs {sum(self.disable_puts.values())}, extension DELETEs {sum(self.deletes.values())}; "
            f"ARM requests {self.requests} (429: {self.throttled}){'; ' + extra if extra else ''}"
        )
