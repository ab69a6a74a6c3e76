"""Credentials for the Azure SDK clients.

Production uses azure-identity's ``DefaultAzureCredential``. A rehearsal against the ARM simulator uses a
fixed bearer token: the SDK still sends it over TLS exactly as it would to Azure, so no code path differs.
"""

from __future__ import annotations

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
