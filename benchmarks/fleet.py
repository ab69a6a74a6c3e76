"""Fleet-scale benchmarks (issue 9): is Azure the bottleneck, never the orchestrator?

Starts Temporal dev servers (WAL pragmas, as the product does), the ARM simulator and adeflow workers (each its own
process, so their CPU and memory are measured apart), runs rollouts and prints a table; writes
``bench-results.json``. Every figure is measured in the same run as its comparison::

    .venv/bin/python -m benchmarks.fleet [--vms 100] [--capacity-vms 300] [--out bench-results.json]

The steps, one module each: the rollout against its ideal (:mod:`benchmarks.rollout`), the plain-script baseline
(:mod:`benchmarks.plain_script`), the same rollout with its worker killed (:mod:`benchmarks.worker_kill`), history
growth with encryption time (:mod:`benchmarks.history`), capacity against a bare Temporal skeleton
(:mod:`benchmarks.capacity`) and the per-VM cost curve over fleet sizes (:mod:`benchmarks.scale`). Shared:
:mod:`benchmarks.workload` (the fleets), :mod:`benchmarks.processes` (workers, simulator, CPU meter),
:mod:`benchmarks.metrics` (figures from a run), :mod:`benchmarks.report` (the table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from adeflow.cli.devserver import DevServer
from azuresim.throttling import ThrottlingSpec
from benchmarks.capacity import bench_capacity_adeflow, bench_capacity_skeleton
from benchmarks.history import bench_history
from benchmarks.plain_script import bench_plain_script
from benchmarks.polling import figures, main_shape, short_shape
from benchmarks.polling import table as polling_table
from benchmarks.processes import ROOT
from benchmarks.procstat import machine
from benchmarks.report import table
from benchmarks.rollout import bench_rollout
from benchmarks.scale import SCALE_FIELDS, bench_scale
from benchmarks.worker_kill import bench_worker_kill, kill_time


def admission_rate(writes_per_vm: float, spec: ThrottlingSpec) -> float:
    """VMs per second one subscription's ARM write budget admits once its burst is spent."""
    return spec.writes.rate / writes_per_vm if writes_per_vm else float("inf")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    report: dict[str, Any] = {"machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
    report["machine"]["load_avg_at_start"] = os.getloadavg()
    print(f"work dir {work}; load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        server = await DevServer.start(work / "temporal-main", ui=False)
        try:
            client = await Client.connect(server.address)
            print(
                f"[1/7] rollout of {args.vms} VMs (concurrency {args.concurrency}, clock x{args.scale:.0f})", flush=True
            )
            shapes = (main_shape(args.vms, args.fast_rate), short_shape(args.short_vms, args.fast_rate))
            rollout = await bench_rollout(client, server, work, args.vms, args.concurrency, args.scale, shape=shapes[0])
            print(f"      {rollout['measured_s']:.0f} s measured, {rollout['ideal_s']:.0f} s ideal", flush=True)
            print(f"[2/7] plain-script baseline, same {args.vms} VMs", flush=True)
            plain = await bench_plain_script(work, args.vms, args.concurrency, args.scale)
            print(f"      {plain['measured_s']:.0f} s, {plain['encrypted']} encrypted", flush=True)
            kill_at = kill_time(rollout["measured_s"])
            print(f"[3/7] rollout again, worker SIGKILLed at {kill_at} s", flush=True)
            killed = await bench_worker_kill(client, server, work, args.vms, args.concurrency, args.scale, kill_at)
            print(f"      {killed['measured_s']:.0f} s, {killed['encrypted']} encrypted", flush=True)
            print("[4/7] history of 1 h, 3 h and 24 h encryptions", flush=True)
            history = await bench_history(client, server, work, args.history_scale)
            print(f"[4b/7] short encryptions: {args.short_vms} VMs (clock x{args.short_scale:.0f})", flush=True)
            quick = await bench_rollout(
                client, server, work, args.short_vms, args.concurrency, args.short_scale, shape=shapes[1]
            )
        finally:
            server.stop()
        print(f"[5/7] capacity: adeflow, {args.capacity_vms} VMs, window {args.window}", flush=True)
        adeflow = await bench_capacity_adeflow(work, args.capacity_vms, args.window)
        print(f"      {adeflow['vm_runs_per_s_sustained']:.2f} VM runs/s", flush=True)
        print(f"[6/7] capacity: bare Temporal skeleton, {args.capacity_vms} children", flush=True)
        skeleton = await bench_capacity_skeleton(work, args.capacity_vms, args.window)
        print(f"      {skeleton['vm_runs_per_s_sustained']:.2f} children/s", flush=True)
        print(f"[7/7] scale: {args.scale_sizes} VMs, window {args.window}", flush=True)
        scale = await bench_scale(work, args.scale_sizes, args.window)
        scale[str(args.capacity_vms)] = {k: adeflow[k] for k in SCALE_FIELDS} | {"wall_s": adeflow["cpu"]["wall_s"]}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    spec = ThrottlingSpec()
    writes_per_vm = rollout["arm_per_vm"]["writes"]
    admission = admission_rate(writes_per_vm, spec)
    capacity = adeflow["vm_runs_per_s_sustained"]
    report.update(
        {
            "vms": args.vms,
            "measured_over_ideal": rollout["measured_over_ideal"],
            "adeflow_over_baseline": rollout["measured_s"] / plain["measured_s"],
            "killed_worker_over_uninterrupted": killed["measured_s"] / rollout["measured_s"],
            "capacity_over_skeleton": capacity / skeleton["vm_runs_per_s_sustained"],
            "capacity_vm_runs_per_s": capacity,
            "capacity_over_write_admission": capacity / admission,
            "write_admission_vm_per_s": admission,
            "cpu_s_per_vm_run": adeflow["cpu_s_per_vm_run"],
            "baseline_cpu_s_per_vm_run": skeleton["cpu_s_per_vm_run"],
            "arm_requests_per_vm": rollout["arm_per_vm"]["total"],
            "throttled_429": rollout["arm"]["throttled_429"],
            "detect_latency_sim_minutes": rollout["detect_latency_sim_minutes"]["max"],
            "history_events_1h": history["h1"]["history_events"],
            "history_events_3h": history["h3"]["history_events"],
            "history_events_24h": history["h24"]["history_events"],
            "arm_requests_3h_vm": history["h3"]["arm"]["total"],
            "worker_peak_rss_mb": max(
                [rollout["worker_peak_rss_mb"], adeflow["worker_peak_rss_mb"]]
                + [row["worker_peak_rss_mb"] for row in scale.values()]
            ),
            "polling": figures(rollout, plain, quick, history, shapes),
            "rollout": rollout,
            "plain_script": plain,
            "short_fleet": quick,
            "rollout_worker_killed": killed,
            "history": history,
            "capacity": {"adeflow": adeflow, "skeleton": skeleton},
            "scale": dict(sorted(scale.items(), key=lambda kv: int(kv[0]))),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    return report


async def rollout_only(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    started_load = os.getloadavg()[0]
    try:
        server = await DevServer.start(work / "temporal-main", ui=False)
        try:
            client = await Client.connect(server.address)
            shapes = (main_shape(args.vms, args.fast_rate), short_shape(args.short_vms, args.fast_rate))
            rollout = await bench_rollout(client, server, work, args.vms, args.concurrency, args.scale, shape=shapes[0])
        finally:
            server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "load_avg_at_start": started_load, **rollout}


async def scale_only(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    try:
        rows = await bench_scale(work, args.scale_sizes, args.window)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "window": args.window, "scale": rows}


async def capacity_only(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="adeflow-bench-"))
    try:
        return await bench_capacity_adeflow(work, args.capacity_vms, args.window, args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=60, help="VMs in the rollout-vs-ideal fleet")
    parser.add_argument("--concurrency", type=int, default=10, help="rollout concurrency (one subscription)")
    parser.add_argument("--scale", type=float, default=400.0, help="simulated seconds per real second (rollout)")
    parser.add_argument("--capacity-vms", type=int, default=500, help="VM runs in the capacity measurement")
    parser.add_argument("--window", type=int, default=200, help="children in flight in the capacity measurement")
    parser.add_argument(
        "--history-scale", type=float, default=600.0, help="clock of the history runs: 1 h = 6 s, polls every 1 s"
    )
    parser.add_argument("--short-vms", type=int, default=30, help="VMs of the short-encryption fleet (issue 18)")
    parser.add_argument("--short-scale", type=float, default=30.0, help="clock of the short-encryption fleet")
    parser.add_argument(
        "--fast-rate", type=float, default=1.5, help="the poll schedule's fastest expected rate / the simulator's"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    parser.add_argument(
        "--capacity-only", action="store_true", help="only the adeflow capacity run (for profiling and tuning)"
    )
    parser.add_argument(
        "--rollout-only", action="store_true", help="only the rollout-vs-ideal run (e.g. --vms 1000 in the background)"
    )
    parser.add_argument(
        "--scale-sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[100, 1000],
        help="fleet sizes of the per-VM cost curve, e.g. 100,1000,10000",
    )
    parser.add_argument("--scale-only", action="store_true", help="only the scale curve (10,000 VMs: background)")
    parser.add_argument("--profile", type=Path, help="sample the capacity worker with py-spy into this directory")
    args = parser.parse_args()
    if args.capacity_only:
        capacity = asyncio.run(capacity_only(args))
        print(json.dumps({k: v for k, v in capacity.items() if k != "profile"}, indent=2))
        return
    if args.scale_only:
        rows = asyncio.run(scale_only(args))
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.out}")
        return
    if args.rollout_only:
        rollout = asyncio.run(rollout_only(args))
        args.out.write_text(json.dumps(rollout, indent=2, default=str) + "\n")
        print(f"measured / ideal {rollout['measured_over_ideal']:.3f}; wrote {args.out}")
        return
    report = asyncio.run(run(args))
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(table(report))
    print(polling_table(report["polling"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
