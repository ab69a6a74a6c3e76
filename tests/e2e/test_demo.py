"""The main job, end to end: ``adeflow demo --json`` (dev server + simulator + worker + CLI)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from adeflow.client.codec import CodecKeys
from adeflow.client.connect import connect
from adeflow.inputs.settings import Settings
from azuresim.http import VM_API
from tests.support.fleets import SUB
from tests.support.processes import Command, alive, descendants

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


async def test_keep_running_hands_over_its_servers_and_sigterm_ends_it_cleanly(tmp_path: Path) -> None:
    """``--keep-running --codec``: the printed ``export`` lines load as settings that reach the running servers,
    the printed commands work as printed (full paths), the UI decodes through the demo's codec server; SIGTERM then
    ends it as its normal end (exit 0) with nothing left behind (issue 17)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")} | {"TMPDIR": str(temp)}
    demo = Command.start("demo", "--keep-running", "--codec", "--target-seconds", "5", env=env, cwd=tmp_path)
    try:
        demo.wait_for("Everything stays up", timeout_s=240)
        exported = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in demo.lines
            if line.startswith("export ")
        )
        assert set(exported) >= {
            "ADEFLOW_TEMPORAL_ADDRESS",
            "ADEFLOW_ARM_ENDPOINT",
            "ADEFLOW_ARM_CA_FILE",
            "ADEFLOW_ARM_STATIC_TOKEN",
            "ADEFLOW_TEMPORAL_UI",
            "ADEFLOW_CODEC_KEYS",
        }
        settings = Settings.from_env(exported)
        rollout_id = re.findall(r"Rollout (demo-\d+):", demo.output)[0]

        # Temporal, with the demo's key: the rollout is there and its payloads open.
        keys = CodecKeys.from_env(exported)
        client = await connect(settings.temporal, keys=keys)
        assert (await client.get_workflow_handle(f"rollout/{rollout_id}").describe()).status is not None
        # ARM (the simulator), with the CA file and the token as printed.
        context = ssl.create_default_context(cafile=settings.azure.ca_file)
        vm_path = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
        url = f"{settings.azure.arm_endpoint}{vm_path}?api-version={VM_API[0]}"
        arm = urllib.request.Request(url, headers={"Authorization": f"Bearer {settings.azure.static_token}"})
        with urllib.request.urlopen(arm, context=context, timeout=10) as answer:
            assert json.load(answer)["name"] == "web-01"
        # The UI, configured with the codec server; the codec server answers the UI's origin only.
        with urllib.request.urlopen(f"{settings.temporal.ui_url}/api/v1/settings", timeout=10) as answer:
            codec_url = json.load(answer)["Codec"]["Endpoint"]
        assert codec_url and f"Codec server: {codec_url}" in demo.output
        preflight = urllib.request.Request(
            f"{codec_url}/decode", method="OPTIONS", headers={"Origin": settings.temporal.ui_url}
        )
        with urllib.request.urlopen(preflight, timeout=10) as answer:
            assert answer.headers["Access-Control-Allow-Origin"] == settings.temporal.ui_url

        # The commands, exactly as printed, after the exports.
        commands = [line for line in demo.lines if line.startswith("/")]
        assert len(commands) >= 3
        for line in commands:
            words = shlex.split(line)
            assert Path(words[0]).is_absolute() and Path(words[0]).is_file(), line
            done = subprocess.run(words, env={**env, **exported}, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            assert "Traceback" not in done.stdout + done.stderr
        listed = subprocess.run(
            shlex.split(next(c for c in commands if "AdeRule" in c)), capture_output=True, text=True, timeout=60
        )
        assert "encrypt/web-legacy-01/" in listed.stdout  # refused by R-LIM-4a: found by its AdeRule

        started = descendants(demo.process.pid)
        assert started
        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=60) == 0, demo.output
    finally:
        demo.stop()
    assert [pid for pid in started if alive(pid)] == []
    assert list(temp.iterdir()) == []
