"""The codec server accepts the Temporal UI user's OIDC tokens, verified against a real (local) issuer."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator
from hashlib import sha256
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from adeflow.client.codec import CodecKeys, EncryptionCodec, new_key_line
from adeflow.client.codec_oidc import OidcConfigError, oidc_from_env
from adeflow.client.codec_server import AnyOf, HostName, build_app, plan_access

pytestmark = [pytest.mark.unit, pytest.mark.security]

KEY = new_key_line("k2026")
UI = "http://localhost:8233"
AUDIENCE = "temporal-ui"
SIGNING = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def issuer() -> AsyncIterator[str]:
    """An identity provider on loopback: discovery document and JWKS (kid ``k1``)."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING.public_key())) | {"kid": "k1", "use": "sig"}
    app = web.Application()

    async def discovery(request: web.Request) -> web.Response:
        base = f"{request.url.origin()}/realms/ops"
        return web.json_response({"issuer": base, "jwks_uri": f"{base}/certs"})

    async def certs(request: web.Request) -> web.Response:
        return web.json_response({"keys": [jwk]})

    app.router.add_get("/realms/ops/.well-known/openid-configuration", discovery)
    app.router.add_get("/realms/ops/certs", certs)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("/realms/ops"))
    yield base
    await server.close()


def token(issuer: str, key: Any = SIGNING, kid: str = "k1", algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": issuer, "aud": AUDIENCE, "sub": "operator-1", "iat": now, "exp": now + 300} | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
async def client(issuer: str) -> AsyncIterator[Client]:
    env = {"ADEFLOW_CODEC_SERVER_OIDC_ISSUER": issuer, "ADEFLOW_CODEC_SERVER_OIDC_AUDIENCE": AUDIENCE}
    access = plan_access(env, "127.0.0.1", 8081, (), insecure_no_auth=False)
    access = type(access)(access.authenticator, (HostName("127.0.0.1"),))
    codec = EncryptionCodec(CodecKeys.parse([(KEY.split()[0], KEY.split()[1])], "test"))
    async with TestClient(TestServer(build_app(codec, (UI,), access), host="127.0.0.1")) as test_client:
        yield test_client


async def decode(client: Client, **headers: str) -> int:
    codec = EncryptionCodec(CodecKeys.parse([(KEY.split()[0], KEY.split()[1])], "test"))
    sealed = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"kv-ade-eastus"')])
    response = await client.post(
        "/decode", data=json_format.MessageToJson(Payloads(payloads=sealed)), headers={"Origin": UI, **headers}
    )
    body = await response.read()
    if response.status != 200:
        assert b"kv-ade-eastus" not in body
    return response.status


async def test_the_ui_users_access_token_decodes(client: Client, issuer: str) -> None:
    assert await decode(client, Authorization=f"Bearer {token(issuer)}") == 200


async def test_the_id_token_in_authorization_extras_is_enough(client: Client, issuer: str) -> None:
    """An Entra access token for Microsoft Graph cannot be verified by anyone else; the UI's ID token can."""
    graph_token = token(issuer, aud="00000003-0000-0000-c000-000000000000")
    assert await decode(client, Authorization=f"Bearer {graph_token}", **{"Authorization-Extras": token(issuer)}) == 200


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"aud": "another-app"}, id="wrong-audience"),
        pytest.param({"iss": "https://evil.example/realms/ops"}, id="wrong-issuer"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"exp": None}, id="no-expiry"),
        pytest.param({"key": OTHER}, id="signed-by-another-key"),
        pytest.param({"kid": "k2"}, id="unknown-key-id"),
    ],
)
async def test_a_token_that_does_not_verify_gets_401(client: Client, issuer: str, bad: dict[str, Any]) -> None:
    claims = dict(bad)
    key, kid = claims.pop("key", SIGNING), claims.pop("kid", "k1")
    forged = token(claims.pop("iss", issuer), key=key, kid=kid, **claims)
    assert await decode(client, Authorization=f"Bearer {forged}") == 401


async def test_an_hmac_token_keyed_with_the_public_key_is_refused(client: Client, issuer: str) -> None:
    """The classic algorithm confusion: HS256 with the issuer's public key as the secret."""
    public = SIGNING.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": issuer, "aud": AUDIENCE, "exp": now + 300}
    header = {"kid": "k1", "alg": "HS256"}
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    signature = hmac.new(public, b".".join(segments), sha256).digest()
    forged = b".".join([*segments, jwt.utils.base64url_encode(signature)]).decode()
    assert await decode(client, Authorization=f"Bearer {forged}") == 401
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    assert await decode(client, Authorization=f"Bearer {unsigned}") == 401


async def test_an_issuer_that_cannot_be_reached_refuses_rather_than_opens() -> None:
    tokens = oidc_from_env(
        {"ADEFLOW_CODEC_SERVER_OIDC_ISSUER": "http://127.0.0.1:9/realms/ops", "ADEFLOW_CODEC_SERVER_OIDC_AUDIENCE": "a"}
    )
    assert tokens is not None and not await tokens.accepts(token("http://127.0.0.1:9/realms/ops"), None)


def test_oidc_configuration_errors_and_both_ways_together() -> None:
    with pytest.raises(OidcConfigError, match="go together"):
        oidc_from_env({"ADEFLOW_CODEC_SERVER_OIDC_ISSUER": "https://login.example.com"})
    with pytest.raises(OidcConfigError, match="must be an https:// URL"):
        oidc_from_env(
            {"ADEFLOW_CODEC_SERVER_OIDC_ISSUER": "http://idp.example.com", "ADEFLOW_CODEC_SERVER_OIDC_AUDIENCE": "a"}
        )
    env = {
        "ADEFLOW_CODEC_SERVER_OIDC_ISSUER": "https://login.example.com/tenant/v2.0",
        "ADEFLOW_CODEC_SERVER_OIDC_AUDIENCE": "temporal-ui",
        "ADEFLOW_CODEC_SERVER_TOKEN": "codec-token-0123456789abcdef",
    }
    access = plan_access(env, "127.0.0.1", 8081, (), insecure_no_auth=False)
    assert isinstance(access.authenticator, AnyOf)
    assert access.authenticator.description == (
        "bearer token or OIDC tokens from https://login.example.com/tenant/v2.0 for audience temporal-ui"
    )
