"""``adeflow codec-server`` and ``adeflow codec-key``: payload encryption for operators who hold the key."""

from __future__ import annotations

from urllib.parse import urlsplit

import click
from aiohttp import web

from adeflow.client.codec import CodecKeyError, CodecKeys, EncryptionCodec, new_key_line
from adeflow.inputs.settings import Settings


@click.command("codec-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address; anyone reaching it reads payloads.")
@click.option("--port", default=8081, show_default=True)
@click.option(
    "--ui-origin",
    "origins",
    multiple=True,
    help="Temporal UI origin allowed by CORS (repeat for several) [default: that of ADEFLOW_TEMPORAL_UI].",
)
def codec_server(host: str, port: int, origins: tuple[str, ...]) -> None:
    """Decode adeflow's encrypted payloads for the Temporal UI (keys from ADEFLOW_CODEC_KEYS/_KEY_FILE)."""
    from adeflow.client.codec_server import build_app

    origins = origins or _settings_ui_origin()
    try:
        keys = CodecKeys.from_env()
    except CodecKeyError as exc:
        raise click.UsageError(str(exc)) from exc
    if keys is None:
        raise click.UsageError("no codec keys: set ADEFLOW_CODEC_KEYS or ADEFLOW_CODEC_KEY_FILE")
    click.echo(f"codec server on http://{host}:{port} (key ids: {', '.join(k for k, _ in keys.keys)})")
    web.run_app(build_app(EncryptionCodec(keys), origins), host=host, port=port, print=None)


def _settings_ui_origin() -> tuple[str, ...]:
    """The origin of the UI the settings name: CORS stays exact, never a guessed default."""
    try:
        ui = Settings.from_env().temporal.ui_url
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if not ui:
        raise click.UsageError("name the Temporal UI's origin: --ui-origin http://HOST:PORT or ADEFLOW_TEMPORAL_UI")
    parts = urlsplit(ui)
    return (f"{parts.scheme}://{parts.netloc}",)


@click.command("codec-key")
@click.argument("key_id")
def codec_key(key_id: str) -> None:
    """Print a new AES-256 key line for ADEFLOW_CODEC_KEY_FILE (put it first to make it the sealing key)."""
    click.echo(new_key_line(key_id))
