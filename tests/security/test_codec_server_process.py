"""``adeflow codec-server`` as an operator runs it (HTTPS, a token), decoding for the real ``temporal`` CLI."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from temporalio.client import Client

from adeflow.cli.devserver import DevServer, free_port
from adeflow.client.codec import CodecKeys, data_converter, new_key_line
from adeflow.domain.model import EncryptVmInput, VmRef
from tests.support.fleets import SUB, VAULT_ID

pytestmark = [pytest.mark.e2e, pytest.mark.security]

VENV_BIN = Path(sys.executable).parent
KEY = new_key_line("k2026")
TOKEN = "codec-token-0123456789abcdef"


@pytest.fixture
def codec_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A codec server on HTTPS (certificate from a test CA) with a token file; yields its URL and the CA file."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {name: tmp_path / name for name in ("ca.pem", "cert.pem", "key.pem", "token", "keys")}
    ca.cert_pem.write_to_path(str(paths["ca.pem"]))
    cert.cert_chain_pems[0].write_to_path(str(paths["cert.pem"]))
    cert.private_key_pem.write_to_path(str(paths["key.pem"]))
    paths["token"].write_text(TOKEN + "\n")
    paths["keys"].write_text(KEY + "\n")
    for name in ("token", "keys"):
        paths[name].chmod(0o600)
    port = free_port()
    tls = ["--tls-cert", str(paths["cert.pem"]), "--tls-key", str(paths["key.pem"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADEFLOW_")}
    env |= {"ADEFLOW_CODEC_KEY_FILE": str(paths["keys"]), "ADEFLOW_CODEC_SERVER_TOKEN_FILE": str(paths["token"])}
    env["ADEFLOW_TEMPORAL_UI"] = "http://localhost:8233"  # the CORS origin defaults to its origin
    process = subprocess.Popen(
        [str(VENV_BIN / "adeflow"), "codec-server", "--port", str(port), *tls],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the codec server did not listen within 30 s"
                time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", paths["ca.pem"]
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
        assert TOKEN not in output  # never printed, not even at start-up
        assert "authentication: bearer token" in output


async def test_the_temporal_cli_decodes_only_with_the_token(
    codec_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    endpoint, ca_file = codec_server
    server = await DevServer.start(tmp_path_factory.mktemp("temporal"), ui=False)
    try:
        keys = CodecKeys.from_env({"ADEFLOW_CODEC_KEYS": KEY.replace(" ", ":")})
        client = await Client.connect(server.address, data_converter=data_converter(keys))
        request = EncryptVmInput(vm=VmRef(SUB, "rg-web", "codec-web-01"), key_vault_id=VAULT_ID)
        handle = await client.start_workflow(
            "EncryptVmWorkflow", request, id=f"codec/{uuid.uuid4()}", task_queue="no-worker-here"
        )

        show_workflow = [str(VENV_BIN / "temporal"), "workflow", "show", "-w", handle.id, "--address", server.address]

        def show(*auth: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*show_workflow, "--codec-endpoint", endpoint, *auth, "--output", "json"],
                env={**os.environ, "SSL_CERT_FILE": str(ca_file)},  # Go's trust store: the test CA
                capture_output=True,
                text=True,
                timeout=60,
            )

        refused = show()
        assert refused.returncode != 0  # the codec server answered 401: no history shown
        assert "kv-ade-eastus" not in refused.stdout + refused.stderr
        decoded = show("--codec-auth", f"Bearer {TOKEN}")
        assert decoded.returncode == 0, decoded.stderr
        [payload] = json.loads(decoded.stdout)["events"][0]["workflowExecutionStartedEventAttributes"]["input"][
            "payloads"
        ]
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"  # opened by the codec server
        assert b"kv-ade-eastus" in base64.b64decode(payload["data"])
    finally:
        server.stop()
