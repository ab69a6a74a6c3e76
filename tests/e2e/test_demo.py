"""The main job, end to end: ``adeflow demo --json`` (dev server + simulator + worker + CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

ADEFLOW = Path(sys.executable).parent / "adeflow"


def test_demo_rolls_out_the_sample_fleet_and_refuses_ineligible_vms_with_rule_ids() -> None:
    done = subprocess.run(
        [str(ADEFLOW), "demo", "--json"], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["failed"] == 0
    assert summary["encrypted"] >= 30
    assert summary["refused"] >= 10
    assert summary["rollout_id"].startswith("demo-")
    assert summary["disable"] == {"vm": "dis-01", "outcome": "disabled", "rule": None}  # R-DIS-2 disable, then remove
    assert all(Path(p).is_file() for p in summary["report"])
    assert summary["temporal_address"].startswith("127.0.0.1:")
    vms = summary["vms"]
    assert len(vms) == summary["encrypted"] + summary["refused"]
    for entry in vms:
        if entry["outcome"] == "refused":
            assert entry["rule"] and entry["rule"].startswith("R-"), entry
            assert entry["backup"] is None, entry  # refused before the backup gate: nothing touched
        else:
            assert entry["backup"] in ("snapshot", "azure-backup"), entry
    assert {e["backup"] for e in vms if e["outcome"] == "encrypted"} == {"snapshot", "azure-backup"}
    rules = {entry["rule"] for entry in vms if entry["rule"]}
    assert {
        "R-PRE-1", "R-PRE-2", "R-LIM-1", "R-LIM-4a", "R-LIM-4c", "R-LIM-4i", "R-LIM-4o", "R-LIM-4s", "R-LIM-4t",
        "R-LIM-4w", "R-LIM-4x", "R-LIM-4y",
    } <= rules  # fmt: skip
    assert "Temporal UI: http://127.0.0.1:" in done.stdout
    assert "rollout demo-" in done.stdout and "encrypting" in done.stdout  # the live display was shown
