"""Scale curve: one capacity run (:mod:`benchmarks.capacity`) per fleet size; per-VM costs (CPU, ARM
requests, history events) and the worker's memory should stay flat as the fleet grows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.capacity import bench_capacity_adeflow

SCALE_FIELDS = (
    "encrypted",
    "vm_runs_per_s_sustained",
    "cpu_s_per_vm_run",
    "worker_cpu_s_per_vm_run",
    "server_cpu_s_per_vm_run",
    "arm_requests_per_vm",
    "fleet_runs",
    "fleet_run_events_max",
    "vm_run_events_mean",
    "vm_run_events_max",
    "worker_peak_rss_mb",
)


async def bench_scale(work: Path, sizes: list[int], window: int) -> dict[str, Any]:
    """One rollout per size on the capacity set-up: per-VM costs should stay flat as the fleet grows."""
    rows: dict[str, Any] = {}
    for size in sizes:
        print(f"      scale: {size} VMs", flush=True)
        result = await bench_capacity_adeflow(work / f"scale-{size}", size, window)
        rows[str(size)] = {k: result[k] for k in SCALE_FIELDS} | {"wall_s": result["cpu"]["wall_s"]}
        print(f"      {json.dumps(rows[str(size)])}", flush=True)
    return rows
