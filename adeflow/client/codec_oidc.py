"""OIDC for the codec server: accept the Temporal UI's signed-in user by the tokens the UI already sends.

With "Pass access token" on (and an HTTPS codec endpoint) the UI sends its user's access token as
``Authorization: Bearer`` and the ID token as ``Authorization-Extras``. Neither can equal a shared secret, so the
codec server verifies them against the UI's identity provider instead: the signature with a key from the
issuer's JWKS (found through its discovery document), then ``iss`` (exactly the configured issuer), ``aud``
(the configured audience: the UI's client id, or an API's) and ``exp``. Either token verifying is enough: some
providers (Microsoft Entra ID among them) issue access tokens for another API whose signature only that API can
check, while the ID token is always for the UI's own client id. Only asymmetric algorithms are accepted (never
``none`` or an HMAC keyed with a public key). Who may decode is then whoever may sign into the UI's client: limit
that at the identity provider (user assignment).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt
import structlog

from adeflow.client.errors import BadInput

ISSUER_ENV = "ADEFLOW_CODEC_SERVER_OIDC_ISSUER"
AUDIENCE_ENV = "ADEFLOW_CODEC_SERVER_OIDC_AUDIENCE"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
"""Asymmetric signatures only: an issuer signs, nobody else can."""
TIMEOUT_S = 10.0
LEEWAY_S = 60
"""Clock skew tolerated on ``exp``/``nbf``/``iat``."""

log = structlog.get_logger(__name__)


class OidcConfigError(BadInput):
    """The OIDC settings of the codec server are unusable (exit 2, nothing started)."""


class IssuerUnavailable(Exception):
    """The issuer's discovery document could not be read (network, TLS, not JSON, another issuer)."""


def _secure_url(url: str) -> bool:
    """HTTPS, or plain HTTP to a loopback host (an identity provider on the same machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


class OidcTokens:
    """Verifies the UI's tokens against one issuer and audience; the keys are fetched on first use and cached."""

    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer, self.audience = issuer, audience
        self._keys: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"OIDC tokens from {self.issuer} for audience {self.audience}"

    async def accepts(self, bearer: str, extras: str | None) -> bool:
        for token in [bearer] + ([extras] if extras else []):
            if await asyncio.to_thread(self._verifies, token):
                return True
        return False

    def _verifies(self, token: str) -> bool:
        try:
            key = self._jwks().get_signing_key_from_jwt(token)
            jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except IssuerUnavailable as exc:
            log.warning("codec server: cannot verify tokens", issuer=self.issuer, reason=str(exc))
            return False
        except jwt.PyJWTError as exc:  # also the JWKS client's errors: unknown kid, JWKS unreachable
            log.info("codec server: token refused", reason=str(exc))
            return False
        return True

    def _jwks(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._keys is None:
                self._keys = jwt.PyJWKClient(self._jwks_uri(), cache_keys=True, timeout=TIMEOUT_S)
            return self._keys

    def _jwks_uri(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                document: Any = json.load(response)
        except (OSError, ValueError) as exc:
            raise IssuerUnavailable(f"{url}: {exc}") from None
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            announced = document.get("issuer") if isinstance(document, dict) else None
            raise IssuerUnavailable(f"{url} announces issuer {announced!r}, not {self.issuer!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not _secure_url(jwks_uri):
            raise IssuerUnavailable(f"{url}: no usable jwks_uri ({jwks_uri!r})")
        return jwks_uri


def oidc_from_env(env: Mapping[str, str]) -> OidcTokens | None:
    """The configured issuer and audience, or None when neither is set."""
    issuer, audience = env.get(ISSUER_ENV, "").strip(), env.get(AUDIENCE_ENV, "").strip()
    if not issuer and not audience:
        return None
    if not issuer or not audience:
        raise OidcConfigError(f"{ISSUER_ENV} and {AUDIENCE_ENV} go together (the audience: the UI's client id)")
    if not _secure_url(issuer):
        raise OidcConfigError(f"{ISSUER_ENV}={issuer} must be an https:// URL (http:// only on loopback)")
    return OidcTokens(issuer, audience)
