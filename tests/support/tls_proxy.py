"""A TLS-terminating TCP proxy on loopback that requires a client certificate, in front of a plaintext server.

The venv's Temporal dev server speaks no TLS; behind this proxy it stands for a frontend configured with
``requireClientAuth`` (deploy/compose.mtls.yml), so the real clients (adeflow's, via the SDK's rustls, and the
``temporal`` CLI) do the real mTLS handshake against the stack's certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def mtls_proxy(cert: Path, key: Path, client_ca: Path, upstream: str) -> AsyncIterator[str]:
    """``127.0.0.1:<port>`` serving ``cert``, accepting only clients whose certificate ``client_ca`` signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])  # gRPC
    host, port = upstream.rsplit(":", 1)
    tasks: set[asyncio.Task[object]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        task = asyncio.ensure_future(asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
