"""Credentials for the Azure SDK clients.

Production uses azure-identity's ``DefaultAzureCredential``. A rehearsal against the ARM simulator uses a
fixed bearer token: the SDK still sends it over TLS exactly as it would to Azure, so no code path differs.
Which endpoint may receive which kind of token is decided in ``adeflow.inputs.settings.credential_refusal``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessToken


class StaticTokenCredential:
    """A credential that always returns the same bearer token (sync and async protocols).

    Meant for the simulator, or for a token obtained out of band; it never refreshes.
    """

    def __init__(self, token: str, *, lifetime_s: int = 24 * 3600) -> None:
        self._token = token
        self._lifetime_s = lifetime_s

    def _access_token(self) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime_s)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._access_token()

    def close(self) -> None:
        return None


class AsyncStaticTokenCredential:
    """The async flavour (``AsyncTokenCredential`` protocol), used by the activities' aio clients."""

    def __init__(self, token: str, *, lifetime_s: int = 24 * 3600) -> None:
        self._sync = StaticTokenCredential(token, lifetime_s=lifetime_s)

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return self._sync.get_token(*scopes)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncStaticTokenCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        return None


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, read without verifying it: only to say whose token it is, never to trust
    it. Empty for a token that is not a JWT (the simulator's)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


_CLAIMS = (("tid", "tenant"), ("appid", "client"), ("azp", "client"), ("oid", "object"), ("upn", "user"))
"""Identity claims worth showing, in this order (``appid`` in v1 tokens, ``azp`` in v2); none of them is secret."""


def describe_identity(credential: object, token: str) -> str:
    """Which credential produced ``token`` and for whom (tenant, client, object id), never the token itself.

    For ``DefaultAzureCredential`` (a ``ChainedTokenCredential``) it names the link that answered, which
    azure-identity records after a successful ``get_token`` in ``_successful_credential`` (no public accessor).
    """
    if isinstance(credential, AsyncStaticTokenCredential | StaticTokenCredential):
        kind = "a static token (ADEFLOW_ARM_STATIC_TOKEN)"
    else:
        used = getattr(credential, "_successful_credential", None)
        kind = type(credential).__name__ if used is None else f"{type(used).__name__} via {type(credential).__name__}"
    claims = token_claims(token)
    shown: dict[str, str] = {}
    for claim, label in _CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value and label not in shown:
            shown[label] = value
    return kind + (f" ({', '.join(f'{label} {value}' for label, value in shown.items())})" if shown else "")
