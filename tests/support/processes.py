"""Long-running ``adeflow`` commands as subprocesses: their output as it comes, their descendants, and what a
signal leaves behind (processes by pid, temporary directories)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ADEFLOW = Path(sys.executable).parent / "adeflow"


@dataclass
class Command:
    """``adeflow ARGS`` in a session of its own (so its process group is its pid), stdout and stderr merged."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @staticmethod
    def start(*args: str, env: dict[str, str], cwd: Path) -> Command:
        process = subprocess.Popen(
            [str(ADEFLOW), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        command = Command(process)
        threading.Thread(target=command._read, daemon=True).start()
        return command

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"no {text!r} in the output:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.2)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        """The test's own clean-up, whatever happened: kill the group and any descendant left."""
        for pid in descendants(self.process.pid):
            _kill(pid)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    parents = {int(entry.name): _parent(int(entry.name)) for entry in Path("/proc").iterdir() if entry.name.isdigit()}
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone: it runs nothing and holds no port)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def group_members(pgid: int) -> set[int]:
    """Live processes whose process group is ``pgid``."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.add(int(entry.name))
    return members
