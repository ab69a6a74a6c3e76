"""``adeflow codec-server`` and ``adeflow codec-key``: payload encryption for operators who hold the key."""

from __future__ import annotations

import click
from aiohttp import web

from adeflow.client.codec import CodecKeyError, CodecKeys, EncryptionCodec, new_key_line


@click.command("codec-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address; anyone reaching it reads payloads.")
@click.option("--port", default=8081, show_default=True)
@click.option(
    "--ui-origin",
    "origins",
    multiple=True,
    default=("http://localhost:8233", "http://localhost:8080"),
    show_default=True,
    help="Temporal UI origin allowed by CORS (repeat for several).",
)
def codec_server(host: str, port: int, origins: tuple[str, ...]) -> None:
    """Decode adeflow's encrypted payloads for the Temporal UI (keys from ADEFLOW_CODEC_KEYS/_KEY_FILE)."""
    from adeflow.client.codec_server import build_app

    try:
        keys = CodecKeys.from_env()
    except CodecKeyError as exc:
        raise click.UsageError(str(exc)) from exc
    if keys is None:
        raise click.UsageError("no codec keys: set ADEFLOW_CODEC_KEYS or ADEFLOW_CODEC_KEY_FILE")
    click.echo(f"codec server on http://{host}:{port} (key ids: {', '.join(k for k, _ in keys.keys)})")
    web.run_app(build_app(EncryptionCodec(keys), origins), host=host, port=port, print=None)


@click.command("codec-key")
@click.argument("key_id")
def codec_key(key_id: str) -> None:
    """Print a new AES-256 key line for ADEFLOW_CODEC_KEY_FILE (put it first to make it the sealing key)."""
    click.echo(new_key_line(key_id))
