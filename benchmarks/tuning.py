"""Worker tuning, measured (issue 9, item 7): the capacity run once per worker configuration.

Each configuration gets a fresh dev server, simulator and worker (``benchmarks.capacity.bench_capacity_adeflow``:
ARM unthrottled, encryption instant), so the rows differ only in the worker's settings::

    .venv/bin/python -m benchmarks.tuning [--vms 500] [--window 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.capacity import bench_capacity_adeflow
from benchmarks.processes import ROOT

CONFIGURATIONS: dict[str, dict[str, str]] = {
    "defaults (cache 2000, 100 activity / 100 workflow-task slots)": {},
    "activity slots 200": {"ADEFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES": "200"},
    "activity slots 50": {"ADEFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES": "50"},
    "workflow-task slots 20": {"ADEFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "20"},
    "cache 300 (window 200 + parents)": {"ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS": "300"},
    "cache 100 (below the window)": {"ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS": "100"},
}


async def measure(vms: int, window: int, only: list[str]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for label, settings in CONFIGURATIONS.items():
        if only and not any(o in label for o in only):
            continue
        work = Path(tempfile.mkdtemp(prefix="adeflow-tuning-"))
        try:
            load = os.getloadavg()[0]
            result = await bench_capacity_adeflow(work, vms, window, worker_settings=settings)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows[label] = {
            "settings": settings,
            "load_before": load,
            "vm_runs_per_s_sustained": result["vm_runs_per_s_sustained"],
            "worker_cpu_s_per_vm_run": result["worker_cpu_s_per_vm_run"],
            "server_cpu_s_per_vm_run": result["server_cpu_s_per_vm_run"],
            "worker_peak_rss_mb": result["worker_peak_rss_mb"],
            "encrypted": result["encrypted"],
        }
        r = rows[label]
        print(
            f"{label:<62} {r['vm_runs_per_s_sustained']:5.2f} VM runs/s  worker {r['worker_cpu_s_per_vm_run']:.3f}"
            f" + server {r['server_cpu_s_per_vm_run']:.3f} CPU-s/VM  RSS {r['worker_peak_rss_mb']:.0f} MB"
            f"  ({r['encrypted']}/{vms} encrypted, load {load:.1f})",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=500)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--only", nargs="*", default=[], help="run the configurations whose label contains these")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-tuning.json")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.vms, args.window, args.only))
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
