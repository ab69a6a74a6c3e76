"""``adeflow codec-server`` and ``adeflow codec-key``: payload encryption for operators who hold the key."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import click
from aiohttp import web

from adeflow.client.codec import CodecKeyError, CodecKeys, EncryptionCodec, new_key_line
from adeflow.inputs.settings import Settings


@click.command("codec-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", default=8081, show_default=True)
@click.option(
    "--ui-origin",
    "origins",
    multiple=True,
    help="Temporal UI origin allowed by CORS (repeat for several) [default: that of ADEFLOW_TEMPORAL_UI].",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Host header clients send, name[:port] (repeat for several) [default: the bound address; on loopback "
    "also localhost].",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve without credentials: a loopback-only demo (refused on any other address).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM); the UI passes its access token to HTTPS endpoints only.",
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Its private key.")
def codec_server(
    host: str,
    port: int,
    origins: tuple[str, ...],
    allowed_hosts: tuple[str, ...],
    insecure_no_auth: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Decode adeflow's encrypted payloads for the Temporal UI and CLI.

    Keys from ADEFLOW_CODEC_KEYS/_KEY_FILE; clients authenticate with the bearer token in
    ADEFLOW_CODEC_SERVER_TOKEN/_TOKEN_FILE, or the Temporal UI user's OIDC tokens
    (ADEFLOW_CODEC_SERVER_OIDC_ISSUER and _AUDIENCE).
    """
    from adeflow.client.codec_server import build_app, plan_access

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    origins = origins or _settings_ui_origin()
    try:
        keys = CodecKeys.from_env()
    except CodecKeyError as exc:
        raise click.UsageError(str(exc)) from exc
    if keys is None:
        raise click.UsageError("no codec keys: set ADEFLOW_CODEC_KEYS or ADEFLOW_CODEC_KEY_FILE")
    access = plan_access(os.environ, host, port, allowed_hosts, insecure_no_auth)
    context = None
    if tls_cert is not None and tls_key is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(tls_cert, tls_key)
        except (ssl.SSLError, OSError) as exc:
            raise click.UsageError(f"--tls-cert/--tls-key: {exc}") from exc
    scheme = "https" if context else "http"
    auth = access.authenticator.description if access.authenticator else "NONE (--insecure-no-auth, loopback only)"
    click.echo(
        f"codec server on {scheme}://{host}:{port} (key ids: {', '.join(k for k, _ in keys.keys)}; "
        f"authentication: {auth}; hosts: {', '.join(_host(h.name, h.port) for h in access.allowed_hosts)})"
    )
    web.run_app(
        build_app(EncryptionCodec(keys), origins, access), host=host, port=port, ssl_context=context, print=None
    )


def _host(name: str, port: int | None) -> str:
    shown = f"[{name}]" if ":" in name else name
    return shown if port is None else f"{shown}:{port}"


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
