"""``python -m worker``: the same as ``adeflow worker``."""

import asyncio

from adeflow.config import Settings
from adeflow.logging import configure_logging
from worker.main import run_worker

if __name__ == "__main__":
    configure_logging()
    asyncio.run(run_worker(Settings.from_env()))
