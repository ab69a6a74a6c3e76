"""``python -m worker.healthcheck``: the container health check. Exit 0 when the worker's metrics answer.

The Prometheus endpoint is served by the same SDK runtime that runs the worker's pollers, so an answer means
the process and its runtime are alive; a wedged or crashed worker stops answering and the container is marked
unhealthy (and restarted by the orchestrator). Needs ``ADEFLOW_METRICS_ADDRESS`` (the image sets it).
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    address = os.environ.get("ADEFLOW_METRICS_ADDRESS", "").strip()
    if not address:
        print("ADEFLOW_METRICS_ADDRESS is not set: nothing to probe", file=sys.stderr)
        return 1
    port = address.rsplit(":", 1)[-1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"metrics endpoint on port {port} does not answer: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
