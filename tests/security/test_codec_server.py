"""The codec server's gates: Host, exact CORS, a bearer token; and the start-up refusals (exit 2)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from adeflow.cli.main import cli
from adeflow.client.codec import CodecKeys, EncryptionCodec, new_key_line
from adeflow.client.codec_server import (
    Access,
    CodecServerConfigError,
    HostName,
    StaticToken,
    build_app,
    default_hosts,
    plan_access,
)

pytestmark = [pytest.mark.unit, pytest.mark.security]

KEY = new_key_line("k2026")
TOKEN = "codec-token-0123456789abcdef"
UI = "http://localhost:8233"
SECRET = '"kv-ade-eastus-web-01"'
Client = TestClient[web.Request, web.Application]


def codec() -> EncryptionCodec:
    return EncryptionCodec(CodecKeys.parse([(KEY.split()[0], KEY.split()[1])], "test"))


async def sealed_body() -> str:
    sealed = await codec().encode([Payload(metadata={"encoding": b"json/plain"}, data=SECRET.encode())])
    return json_format.MessageToJson(Payloads(payloads=sealed))


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    access = Access(StaticToken(TOKEN), (HostName("127.0.0.1"),))
    async with TestClient(TestServer(build_app(codec(), (UI,), access), host="127.0.0.1")) as test_client:
        yield test_client


def no_plaintext(body: bytes) -> None:
    assert b"kv-ade-eastus" not in body
    assert base64.b64encode(SECRET.encode())[:16] not in body


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN],
)
async def test_a_request_without_the_token_gets_401_and_no_plaintext(client: Client, authorization: str | None) -> None:
    headers = {"Origin": UI} | ({"Authorization": authorization} if authorization is not None else {})
    for path in ("/decode", "/encode"):
        response = await client.post(path, data=await sealed_body(), headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="adeflow-codec"'
        assert response.headers["Access-Control-Allow-Origin"] == UI  # the UI sees the 401, not a CORS error
        no_plaintext(await response.read())


async def test_with_the_token_it_decodes_for_the_ui_origin(client: Client) -> None:
    response = await client.post(
        "/decode", data=await sealed_body(), headers={"Origin": UI, "Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == UI
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    decoded = json_format.Parse(await response.text(), Payloads())
    assert [p.data.decode() for p in decoded.payloads] == [SECRET]


async def test_a_foreign_origin_gets_no_cors_headers(client: Client) -> None:
    response = await client.post(
        "/decode",
        data=await sealed_body(),
        headers={"Origin": "https://evil.example", "Authorization": f"Bearer {TOKEN}"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers  # a browser page there cannot read the answer
    assert response.headers["Vary"] == "Origin"


async def test_a_preflight_is_answered_without_the_token_for_the_ui_origin_only(
    client: Client,
) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ours = await client.options("/decode", headers={"Origin": UI, **preflight})
    assert ours.status == 204
    assert ours.headers["Access-Control-Allow-Origin"] == UI
    assert "authorization" in ours.headers["Access-Control-Allow-Headers"]
    assert "x-namespace" in ours.headers["Access-Control-Allow-Headers"]
    foreign = await client.options("/decode", headers={"Origin": "http://localhost:8233.evil.example", **preflight})
    assert foreign.status == 403
    assert "Access-Control-Allow-Origin" not in foreign.headers


@pytest.mark.parametrize(("host", "status"), [("evil.example", 421), ("127.0.0.2", 421), ("", 400), ("a b", 400)])
async def test_a_wrong_host_is_refused_before_the_token_is_looked_at(client: Client, host: str, status: int) -> None:
    response = await client.post(
        "/decode", data=await sealed_body(), headers={"Host": host, "Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == status
    no_plaintext(await response.read())


def test_default_hosts_are_the_bound_address_and_on_loopback_localhost() -> None:
    loopback = default_hosts("127.0.0.1", 8081)
    assert HostName("localhost", 8081) in loopback and HostName("127.0.0.1", 8081) in loopback
    assert not any(h.admits(HostName.parse("localhost:9999")) for h in loopback)
    assert default_hosts("10.0.0.5", 8081) == (HostName("10.0.0.5", 8081),)
    assert default_hosts("0.0.0.0", 8081) == ()
    assert HostName.parse("[::1]:8081") == HostName("::1", 8081)
    assert HostName.parse("Codec.Example.com").admits(HostName.parse("codec.example.com:443"))


def env(**values: str) -> dict[str, str]:
    return {f"ADEFLOW_CODEC_SERVER_{name.upper()}": value for name, value in values.items()}


def test_starting_without_a_token_is_refused_with_the_fix() -> None:
    with pytest.raises(CodecServerConfigError, match="no credentials configured: set ADEFLOW_CODEC_SERVER_TOKEN"):
        plan_access({}, "127.0.0.1", 8081, (), insecure_no_auth=False)


@pytest.mark.parametrize("bind", ["0.0.0.0", "10.0.0.5", "::", "codec.example.com"])
def test_insecure_no_auth_is_refused_off_loopback(bind: str) -> None:
    with pytest.raises(CodecServerConfigError, match="binds loopback only"):
        plan_access({}, bind, 8081, (), insecure_no_auth=True)


def test_insecure_no_auth_on_loopback_answers_loopback_names_only() -> None:
    access = plan_access({}, "127.0.0.1", 8081, (), insecure_no_auth=True)
    assert access.authenticator is None
    with pytest.raises(CodecServerConfigError, match="loopback names only"):
        plan_access({}, "127.0.0.1", 8081, ("rebind.evil.example",), insecure_no_auth=True)
    with pytest.raises(CodecServerConfigError, match="contradicts the credentials"):
        plan_access(env(token=TOKEN), "127.0.0.1", 8081, (), insecure_no_auth=True)


def test_a_wildcard_bind_needs_the_names_clients_use() -> None:
    with pytest.raises(CodecServerConfigError, match="--allowed-host"):
        plan_access(env(token=TOKEN), "0.0.0.0", 8081, (), insecure_no_auth=False)
    access = plan_access(env(token=TOKEN), "0.0.0.0", 8081, ("codec.example.com",), insecure_no_auth=False)
    assert access.allowed_hosts == (HostName("codec.example.com"),)


def test_token_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(CodecServerConfigError, match="at least 16 characters"):
        plan_access(env(token="short"), "127.0.0.1", 8081, (), insecure_no_auth=False)
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    with pytest.raises(CodecServerConfigError, match=f"chmod 600 {path}"):
        plan_access(env(token_file=str(path)), "127.0.0.1", 8081, (), insecure_no_auth=False)
    path.chmod(0o600)
    access = plan_access(env(token_file=str(path)), "127.0.0.1", 8081, (), insecure_no_auth=False)
    assert access.authenticator == StaticToken(TOKEN)
    assert TOKEN not in repr(access.authenticator.description)
    with pytest.raises(CodecServerConfigError, match="not both"):
        plan_access(env(token=TOKEN, token_file=str(path)), "127.0.0.1", 8081, (), insecure_no_auth=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no credentials configured: set ADEFLOW_CODEC_SERVER_TOKEN or ADEFLOW_CODEC_SERVER_TOKEN_FILE"),
        (["--insecure-no-auth", "--host", "0.0.0.0"], "--insecure-no-auth serves payloads to anyone"),
    ],
)
def test_the_command_refuses_to_start_with_exit_2(args: list[str], message: str) -> None:
    runner_env = {"ADEFLOW_CODEC_KEYS": KEY.replace(" ", ":"), "ADEFLOW_CODEC_KEY_FILE": None}
    runner_env |= {"ADEFLOW_CODEC_SERVER_TOKEN": None, "ADEFLOW_CODEC_SERVER_TOKEN_FILE": None}
    runner_env |= {"ADEFLOW_TEMPORAL_UI": "http://localhost:8233"}  # the CORS origin (the default: its origin)
    result = CliRunner().invoke(cli, ["codec-server", *args], env=runner_env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
