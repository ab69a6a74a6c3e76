"""What every ``adeflow`` command needs before it works: settings and a Temporal client, or a clean error.

Bad configuration exits 2 (nothing started); an unreachable Temporal exits 1; neither prints a traceback.
"""

from __future__ import annotations

import click
from temporalio.client import Client

from adeflow.codec import CodecKeyError
from adeflow.config import Settings
from adeflow.temporal_client import TemporalUnreachable
from adeflow.temporal_client import connect as connect_temporal


def settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


async def temporal_client(config: Settings) -> Client:
    try:
        return await connect_temporal(config.temporal)
    except TemporalUnreachable as exc:
        raise click.ClickException(str(exc)) from exc
    except CodecKeyError as exc:
        raise click.UsageError(str(exc)) from exc
