"""The worker's liveness beat: a file the Python event loop rewrites every few seconds, and the check that reads it.

The metrics endpoint is served by the SDK's Rust core on its own threads, so it keeps answering while the Python
event loop is blocked (a synchronous call in an activity, a CPU-bound loop, a deadlock): the worker then runs no
workflow task and no activity, yet looked healthy. The beat is written by an asyncio task on that very loop, and
only while the SDK worker runs, so a stale file means the loop or the worker stopped; ``python -m
worker.healthcheck`` then exits 1 and the orchestrator acts (README, "Worker health").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import structlog

BEAT_EVERY_S = 5.0
"""How often the event loop rewrites the beat."""
MAX_AGE_S = 30.0
"""A beat older than this fails the check: six missed beats, so a busy moment is not a restart."""

log = structlog.get_logger(__name__)


def write_beat(path: Path, now: float | None = None) -> None:
    """Atomically replace the beat with the current time (a reader never sees a half-written file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(f"{time.time() if now is None else now:.3f}\n")
    partial.replace(path)


async def beat(path: Path, running: Callable[[], bool], every_s: float = BEAT_EVERY_S) -> None:
    """Rewrite the beat every ``every_s`` while ``running()``; removes it when cancelled (the worker stopped)."""
    try:
        while True:
            if running():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_beat(path)
                except OSError as exc:  # a full or read-only disk: the check will say the beat is stale
                    log.warning("cannot write the health beat", path=str(path), error=exc.strerror)
            await asyncio.sleep(every_s)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def check_beat(path: Path, now: float | None = None, max_age_s: float = MAX_AGE_S) -> str | None:
    """None when the beat is fresh, else what is wrong, in words for the health-check log."""
    try:
        written = float(path.read_text().strip())
    except FileNotFoundError:
        return f"no health beat at {path}: the worker is not running (or ADEFLOW_HEALTH_FILE differs)"
    except (OSError, ValueError) as exc:
        return f"health beat {path} is unreadable: {exc}"
    age = (time.time() if now is None else now) - written
    if age > max_age_s:
        return (
            f"health beat {path} is {age:.0f} s old (limit {max_age_s:.0f} s): the worker's event loop is blocked "
            "or its SDK worker stopped"
        )
    return None
