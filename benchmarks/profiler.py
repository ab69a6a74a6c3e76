"""Sampling profiles of a running worker with py-spy (issue 9, item 7), summarised as text.

py-spy attaches to the worker process from outside (no code in the product), samples its Python stacks
without stopping it (``--nonblocking``) and writes collapsed stacks; :func:`summarize` turns them into the
functions with the most self time and the most inclusive time, the two lists that point at hot spots.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str:
    """The py-spy of this environment (a dev dependency), else one on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    found = str(local) if local.exists() else shutil.which("py-spy")
    if not found:
        raise RuntimeError("py-spy is not installed: run `make install` (it is a dev dependency)")
    return found


def start(pid: int, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Sample ``pid`` until it exits; collapsed stacks go to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking"]
    return subprocess.Popen([*cmd, "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _function(frame: str) -> str:
    """``name (path/to/module.py:123)`` -> ``name (module.py)``: lines of one function count together."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"


@dataclass(frozen=True)
class ProfileSummary:
    samples: int
    self_top: list[tuple[str, float]]
    """(function, share of samples) with the most samples on top of the stack."""
    inclusive_top: list[tuple[str, float]]
    """(function, share of samples) on the stack at all: where the time goes, callers included."""


def summarize(raw: Path, top: int = 20) -> ProfileSummary:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for function in set(frames):
            inclusive[function] += count
    share = 1 / total if total else 0.0
    return ProfileSummary(
        samples=total,
        self_top=[(f, c * share) for f, c in self_time.most_common(top)],
        inclusive_top=[(f, c * share) for f, c in inclusive.most_common(top)],
    )


def render(summary: ProfileSummary) -> str:
    lines = [f"{summary.samples} samples", "self time:"]
    lines += [f"  {s:6.1%}  {f}" for f, s in summary.self_top]
    lines.append("inclusive time:")
    lines += [f"  {s:6.1%}  {f}" for f, s in summary.inclusive_top]
    return "\n".join(lines)
