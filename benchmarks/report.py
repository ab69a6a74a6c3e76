"""The table ``make bench`` prints: each figure of a full run beside its target (BENCHMARKS.md explains them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def table(r: dict[str, Any]) -> str:
    ro, hi, ad, sk = r["rollout"], r["history"], r["capacity"]["adeflow"], r["capacity"]["skeleton"]
    kr = r["rollout_worker_killed"]
    lat = ro["detect_latency_sim_minutes"]
    per_vm = ro["arm_per_vm"]
    rows = [
        ("figure", "measured", "target"),
        (
            f"rollout {r['vms']} VMs: measured / ideal",
            f"{r['measured_over_ideal']:.3f} ({ro['measured_s']:.0f} s / {ro['ideal_s']:.0f} s)",
            "<= 1.10",
        ),
        (
            "adeflow / plain script, wall time",
            f"{r['adeflow_over_baseline']:.3f} ({ro['measured_s']:.0f} s / {r['plain_script']['measured_s']:.0f} s)",
            "<= 1.15",
        ),
        (
            "worker SIGKILLed mid-run: wall / uninterrupted",
            f"{r['killed_worker_over_uninterrupted']:.3f} ({kr['encrypted']}/{kr['vms']} encrypted, "
            f"{kr['extension_puts']} extension PUTs)",
            "completes, 1 PUT per VM",
        ),
        (
            "capacity, VM runs/s (adeflow / skeleton)",
            f"{ad['vm_runs_per_s_sustained']:.2f} / {sk['vm_runs_per_s_sustained']:.2f} = "
            f"{r['capacity_over_skeleton']:.2f}",
            "",
        ),
        (
            "capacity / ARM write admission",
            f"{r['capacity_over_write_admission']:.2f}x ({r['write_admission_vm_per_s']:.2f} VM/s)",
            ">= 2x",
        ),
        (
            "CPU s per VM run (worker+server)",
            f"{ad['cpu_s_per_vm_run']:.3f} (skeleton {sk['cpu_s_per_vm_run']:.3f})",
            "",
        ),
        (
            "ARM requests per VM (reads/writes/LRO polls)",
            f"{per_vm['total']:.1f} ({per_vm['reads']:.1f}/{per_vm['writes']:.1f}/{per_vm['lro_polls']:.1f})",
            "",
        ),
        ("ARM requests, 3 h encryption", f"{hi['h3']['arm']['total']}", "<= 60"),
        ("429 responses", f"{ro['arm']['throttled_429']}", "0"),
        (
            "detect latency, sim min (mean/max)",
            f"{lat['mean']:.1f} / {lat['max']:.1f}" if lat["max"] is not None else "n/a",
            "<= 10",
        ),
        (
            "history events 1 h / 3 h / 24 h",
            f"{hi['h1']['history_events']} / {hi['h3']['history_events']} / {hi['h24']['history_events']}",
            "equal, <= 150",
        ),
        (
            "history bytes 1 h / 24 h",
            f"{hi['h1']['history_bytes']} / {hi['h24']['history_bytes']}",
            "within 10%",
        ),
        ("worker peak RSS MB", f"{r['worker_peak_rss_mb']:.0f}", "<= 1024"),
    ]
    for size, row in r["scale"].items():
        rows.append(
            (
                f"scale {size} VMs: CPU-s / ARM req / events per VM",
                f"{row['cpu_s_per_vm_run']:.3f} / {row['arm_requests_per_vm']:.1f} / {row['vm_run_events_mean']:.0f}"
                f"; fleet runs {row['fleet_runs']} (max {row['fleet_run_events_max']} events); "
                f"RSS {row['worker_peak_rss_mb']:.0f} MB",
                "flat; < 10,000 events/run",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = r["machine"]
    lines.append(
        f"machine: {m['cpus']} CPUs {m['cpu_model']}, {m['memory_gb']} GB, {m['os']}, Python {m['python']}; "
        f"load avg at start {m['load_avg_at_start'][0]:.2f}, at end {m['load_avg_at_end'][0]:.2f}"
    )
    return "\n".join(lines)


def publish(out: Path, report: dict[str, Any], rendered: str) -> None:
    """Write a benchmark's figures (JSON at ``out``) and print its table: every ``make bench-*`` ends the same way."""
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(rendered)
    print(f"wrote {out}")
