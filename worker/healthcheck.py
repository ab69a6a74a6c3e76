"""``python -m worker.healthcheck``: the container health check and liveness probe. Exit 0 when the worker is alive.

Two probes, both must pass: the beat the worker's Python event loop rewrites (``worker.health``), which goes stale
when the loop is blocked or the SDK worker stopped, and, when ``ADEFLOW_METRICS_ADDRESS`` is set, the metrics
endpoint the SDK's Rust core serves. The metrics endpoint alone keeps answering while the loop is stuck.
Settings come from the same environment (and ``ADEFLOW_CONFIG_FILE``) as the worker's, so both agree on the file.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from adeflow.inputs.settings import Settings
from worker.health import check_beat


def _metrics_problem(address: str) -> str | None:
    port = address.rsplit(":", 1)[-1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return None if response.status == 200 else f"metrics endpoint on port {port} answered {response.status}"
    except OSError as exc:
        return f"metrics endpoint on port {port} does not answer: {exc}"


def main() -> int:
    try:
        telemetry = Settings.from_env().telemetry
    except ValueError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    problems = [check_beat(Path(telemetry.health_file))]
    if telemetry.metrics_address:
        problems.append(_metrics_problem(telemetry.metrics_address))
    found = [problem for problem in problems if problem]
    for problem in found:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
