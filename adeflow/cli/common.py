"""What every ``adeflow`` command needs before it works: settings and a Temporal client, or a clean error.

Bad configuration exits 2 (nothing started); an unreachable Temporal exits 1; neither prints a traceback.
"""

from __future__ import annotations

import click
from temporalio.client import Client

from adeflow.client.codec import CodecKeyError
from adeflow.client.connect import TemporalUnreachable
from adeflow.client.connect import connect as connect_temporal
from adeflow.inputs.settings import Settings


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
