"""Issue 16 end to end: ``adeflow demo --scenario migrate`` (dev server + simulator + worker + CLI) and
``adeflow migrate report`` reading the demo's finished migrations back from Temporal."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import Command

pytestmark = [pytest.mark.slow, pytest.mark.migration]

ADEFLOW = Path(sys.executable).parent / "adeflow"
SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000002"  # examples/migrate-demo-fleet.yaml


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}


def test_demo_migrate_moves_both_paths_refuses_the_vm_without_ade_and_ends_with_the_counts(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ADEFLOW), "demo", "--scenario", "migrate", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert (summary["migrated"], summary["refused"], summary["failed"]) == (3, 1, 0)
    vms = {v["vm"]: v for v in summary["vms"]}
    assert {name: (v["outcome"], v["path"], v["rule"]) for name, v in vms.items()} == {
        "data-01": ("migrated", "copy-disks", None),  # M-3
        "data-02": ("migrated", "copy-disks", None),  # M-3
        "os-01": ("migrated", "rebuild", None),  # M-4, from the manifest's image
        "plain-01": ("refused", "none", "M-2"),  # never had ADE: enable EAH in place
    }
    # The demo gave every decision itself, each recorded by the run (M-7 downtime, M-4 data moved, M-8).
    assert vms["data-01"]["approvals"] == ["downtime", "new-vm-works", "cleanup"]
    assert vms["os-01"]["approvals"] == ["data-moved", "new-vm-works", "cleanup"]
    assert vms["data-02"]["new_vm"] == "data-02-eah"
    assert all((tmp_path / p).is_file() for p in summary["report"])
    assert "# Migration to encryption at host: demo-migrate-" in done.stdout  # the Markdown report, printed
    assert "| data-01 | 0 | data-01-datadisk-0 | data-01-datadisk-0-eah |" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_migrate_report_reads_the_finished_migrations_of_a_rollout_and_of_a_vm(tmp_path: Path) -> None:
    """``--keep-running``: the printed report command works as printed; JSON and CSV to files written whole; a VM
    by ``<subscription>/<group>/<name>``; an unknown rollout is one line and exit 1."""
    demo = Command.start(
        "demo",
        "--scenario",
        "migrate",
        "--json",
        "--keep-running",
        "--target-seconds",
        "10",
        env=_clean_env(),
        cwd=tmp_path,
    )
    try:
        demo.wait_for("Everything stays up", timeout_s=240)
        exported = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in demo.lines
            if line.startswith("export ")
        )
        env = {**_clean_env(), **exported}
        summary = json.loads(next(line for line in reversed(demo.lines) if line.startswith("{")))
        rollout_id = summary["rollout_id"]

        def adeflow(*args: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [str(ADEFLOW), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            assert "Traceback" not in done.stdout + done.stderr
            return done

        printed = next(line for line in demo.lines if " migrate report " in line and line.startswith("/"))
        shown = subprocess.run(shlex.split(printed), env=env, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert f"# Migration to encryption at host: {rollout_id}" in shown.stdout
        assert "migrated 3, refused 1, failed 0, rolled-back 0, in-progress 0." in shown.stdout

        report = adeflow("migrate", "report", rollout_id, "--format", "json", "--output", "out/report.json")
        assert report.returncode == 0, report.stderr
        data = json.loads((tmp_path / "out" / "report.json").read_text())
        assert data["counts"] == {"migrated": 3, "refused": 1, "failed": 0, "rolled-back": 0, "in-progress": 0}
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json"]  # no temporary file left
        data_01 = next(v for v in data["vms"] if v["vm"] == "data-01")
        # M-3: the written ranges (3 + 2 GB, a page of slack per disk) and no more.
        assert 0 <= data_01["bytes_allocated"] - (3 + 2) * 1024**3 <= 2 * 512
        assert data_01["bytes_copied"] == data_01["bytes_allocated"]
        assert all(w["revoked_at"] for w in data_01["sas_windows"])  # every SAS revoked after the copy
        assert [a["by"] for a in data_01["approvals"]] == [
            "demo-operator@example.com",  # M-7 downtime
            "demo-owner@example.com",  # the owner's word (M-8's first condition)
            "demo-operator@example.com",  # M-8 cleanup
        ]

        per_vm = adeflow("migrate", "report", rollout_id, "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(per_vm.stdout)))
        assert {r["vm"]: r["status"] for r in rows} == {
            "data-01": "migrated",
            "data-02": "migrated",
            "os-01": "migrated",
            "plain-01": "refused",
        }
        one = adeflow("migrate", "report", f"{SUB}/rg-migrate/os-01", "--format", "json")
        assert one.returncode == 0, one.stderr
        os_01 = json.loads(one.stdout)
        assert [v["path"] for v in os_01["vms"]] == ["rebuild"]  # M-4
        assert os_01["vms"][0]["new_vm_id"].endswith("/virtualMachines/os-01-eah")

        unknown = adeflow("migrate", "report", "no-such-rollout")
        assert unknown.returncode == 1
        assert unknown.stderr.startswith("adeflow: no migration runs tagged AdeRolloutId='no-such-rollout'")

        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=60) == 0, demo.output
    finally:
        demo.stop()
