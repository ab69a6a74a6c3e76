"""Names of the snapshots the R-BAK-2 gate takes: unique per run, the same for every retry of that run.

Pure, so the workflow draws the tag (from its run id) and the activity names the snapshots with it.
"""

from __future__ import annotations

import hashlib
import uuid

SNAPSHOT_NAME_MAX = 80
RUN_TAG_LENGTH = 12


def run_tag(run_id: str) -> str:
    """The run's short tag in snapshot names and tags: the random tail of its Temporal run id.

    Run ids are UUIDv7 on current servers: their head is a millisecond timestamp (the first 8 hex digits are the
    same for every run started within ~65 s) and their last 12 hex digits are random, as in UUIDv4. The tail
    tells runs apart however close together they started, and the same run id (every retry and replay of the
    run) gives the same tag, so a retried attempt finds its own snapshots. A run id that is not a UUID is hashed.
    """
    try:
        digits = uuid.UUID(run_id).hex
    except ValueError:
        digits = hashlib.sha256(run_id.encode()).hexdigest()
    return digits[-RUN_TAG_LENGTH:]


def snapshot_name(disk_name: str, run_tag: str) -> str:
    """Deterministic per disk and run, so a retried attempt re-PUTs the same snapshot instead of a new one."""
    suffix = f"-ade-{run_tag}"
    return disk_name[: SNAPSHOT_NAME_MAX - len(suffix)] + suffix
