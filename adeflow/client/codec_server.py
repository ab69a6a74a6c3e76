"""The codec server the Temporal UI and CLI call to show encrypted payloads to operators who hold the key.

It speaks Temporal's remote codec protocol: ``POST /encode`` and ``POST /decode`` with
``{"payloads": [{"metadata": {k: base64}, "data": base64}]}`` (the protobuf JSON form). Whoever reaches
``/decode`` reads every payload in plaintext, so each request passes three gates, in this order:

1. ``Host`` must name this server (421 otherwise, 400 when missing): a web page on another origin cannot reach
   a loopback codec server through DNS rebinding.
2. CORS is exact: only the configured UI origins get ``Access-Control-Allow-*`` headers. A pre-flight
   ``OPTIONS`` is answered without credentials (browsers never send them on a pre-flight).
3. ``POST`` needs ``Authorization: Bearer <token>`` that an :class:`Authenticator` accepts (401 otherwise, with
   no payload in the body): a shared token (:class:`StaticToken`, what the ``temporal`` CLI sends with
   ``--codec-auth``) and/or the Temporal UI user's OIDC tokens (``adeflow.client.codec_oidc``), which the UI sends
   when its codec setting "Pass access token" is on and the endpoint is HTTPS. Only ``--insecure-no-auth``
   (loopback binds only) drops this gate.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from adeflow.client.codec import CodecKeyError, EncryptionCodec
from adeflow.client.codec_oidc import AUDIENCE_ENV, ISSUER_ENV, oidc_from_env
from adeflow.client.errors import BadInput
from adeflow.inputs.secret_files import SecretFileError, read_secret_file

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOKEN_ENV = "ADEFLOW_CODEC_SERVER_TOKEN"
TOKEN_FILE_ENV = "ADEFLOW_CODEC_SERVER_TOKEN_FILE"
MIN_TOKEN_CHARS = 16
"""A shorter token is guessable; ``openssl rand -base64 32`` gives 44 characters."""
ALLOWED_REQUEST_HEADERS = "authorization, authorization-extras, content-type, x-namespace"
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


class CodecServerConfigError(BadInput):
    """The codec server cannot start safely as configured (exit 2, nothing started)."""


class Authenticator(Protocol):
    """Decides whether a request's credentials may use the codec (the secret never reaches a log or a reply)."""

    @property
    def description(self) -> str:
        """How requests authenticate, for the start-up line (never the secret)."""
        ...

    async def accepts(self, bearer: str, extras: str | None) -> bool:
        """``bearer``: the token after ``Bearer``; ``extras``: the ``Authorization-Extras`` header (an ID token)."""
        ...


@dataclass(frozen=True)
class StaticToken:
    """One shared token, compared in constant time (no timing side channel on how much of it matched)."""

    token: str
    description: str = "bearer token"

    async def accepts(self, bearer: str, extras: str | None) -> bool:
        return hmac.compare_digest(bearer.encode(), self.token.encode())


def static_token_from_env(env: Mapping[str, str]) -> StaticToken | None:
    """The configured token (``ADEFLOW_CODEC_SERVER_TOKEN`` or ``_TOKEN_FILE``), or None when neither is set."""
    inline = env.get(TOKEN_ENV, "").strip()
    path = env.get(TOKEN_FILE_ENV, "").strip()
    if inline and path:
        raise CodecServerConfigError(f"set {TOKEN_ENV} or {TOKEN_FILE_ENV}, not both")
    where = TOKEN_ENV
    if path:
        try:
            inline = read_secret_file(path, TOKEN_FILE_ENV).strip()
        except SecretFileError as exc:
            raise CodecServerConfigError(str(exc)) from None
        where = f"{TOKEN_FILE_ENV}={path}"
        if not inline:
            raise CodecServerConfigError(f"{where} is empty")
    if not inline:
        return None
    if len(inline) < MIN_TOKEN_CHARS or any(c.isspace() for c in inline):
        raise CodecServerConfigError(
            f"{where}: the token must be at least {MIN_TOKEN_CHARS} characters without spaces "
            "(e.g. from `openssl rand -base64 32`)"
        )
    return StaticToken(inline)


# ----------------------------------------------------------------------------------------------- Host header


@dataclass(frozen=True)
class HostName:
    """A ``Host`` value the server answers to: a name or address, and a port (None: any port, e.g. behind a proxy)."""

    name: str
    port: int | None = None

    @staticmethod
    def parse(text: str) -> HostName:
        """``name``, ``name:port``, ``[v6]:port``; raises ValueError for anything else."""
        text = text.strip()
        if not text or any(c in text for c in "/?#@ \t"):
            raise ValueError(f"not a host[:port]: {text!r}")
        parts = urlsplit(f"//{text}")
        name = (parts.hostname or "").rstrip(".")
        if not name:
            raise ValueError(f"not a host[:port]: {text!r}")
        return HostName(name.lower(), parts.port)  # .port raises ValueError for a bad port

    def admits(self, given: HostName) -> bool:
        return given.name == self.name and (self.port is None or given.port == self.port)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_hosts(bind: str, port: int) -> tuple[HostName, ...]:
    """The ``Host`` values a server bound to ``bind`` answers to without ``--allowed-host``."""
    if bind in WILDCARD_BINDS:
        return ()
    if is_loopback(bind):
        return tuple(HostName(name, port) for name in dict.fromkeys(("localhost", "127.0.0.1", "::1", bind.lower())))
    return (HostName.parse(f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"),)


@dataclass(frozen=True)
class AnyOf:
    """Several ways in (a shared token for the CLI, OIDC for the UI): a request needs one of them."""

    members: tuple[Authenticator, ...]

    @property
    def description(self) -> str:
        return " or ".join(member.description for member in self.members)

    async def accepts(self, bearer: str, extras: str | None) -> bool:
        for member in self.members:
            if await member.accepts(bearer, extras):
                return True
        return False


@dataclass(frozen=True)
class Access:
    """Who may use the codec server and by which names it is reached, checked before it starts."""

    authenticator: Authenticator | None
    allowed_hosts: tuple[HostName, ...]


def plan_access(
    env: Mapping[str, str], bind: str, port: int, allowed_hosts: tuple[str, ...], insecure_no_auth: bool
) -> Access:
    """Refuses every unsafe combination with the reason and the fix (exit 2, nothing started)."""
    ways = tuple(way for way in (static_token_from_env(env), oidc_from_env(env)) if way is not None)
    authenticator: Authenticator | None = (ways[0] if len(ways) == 1 else AnyOf(ways)) if ways else None
    try:
        hosts = tuple(HostName.parse(text) for text in allowed_hosts) or default_hosts(bind, port)
    except ValueError as exc:
        raise CodecServerConfigError(f"--allowed-host: {exc}") from None
    if insecure_no_auth:
        if authenticator is not None:
            raise CodecServerConfigError(
                f"--insecure-no-auth contradicts the credentials that are set ({TOKEN_ENV}, {TOKEN_FILE_ENV} or "
                f"{ISSUER_ENV}): drop one"
            )
        if not is_loopback(bind):
            raise CodecServerConfigError(
                f"--insecure-no-auth serves payloads to anyone who reaches it, so it binds loopback only, not "
                f"{bind!r}: use --host 127.0.0.1, or set {TOKEN_ENV} or {TOKEN_FILE_ENV}"
            )
        if any(not is_loopback(host.name) for host in hosts):
            raise CodecServerConfigError("--insecure-no-auth answers loopback names only (localhost, 127.0.0.1, ::1)")
    elif authenticator is None:
        raise CodecServerConfigError(
            f"no credentials configured: set {TOKEN_ENV} or {TOKEN_FILE_ENV} (a token of at least "
            f"{MIN_TOKEN_CHARS} characters that clients send as 'Authorization: Bearer <token>'), and/or "
            f"{ISSUER_ENV} with {AUDIENCE_ENV} (the Temporal UI's sign-in); anyone who reaches an open codec "
            "server reads every payload (--insecure-no-auth: a loopback-only demo)"
        )
    if not hosts:
        raise CodecServerConfigError(
            f"bound to {bind!r}: name the host clients reach it by with --allowed-host (e.g. codec.example.com), "
            "so that requests for any other name (DNS rebinding) are refused"
        )
    return Access(authenticator, hosts)


# ------------------------------------------------------------------------------------------------- the app


def build_app(codec: EncryptionCodec, allowed_origins: tuple[str, ...], access: Access) -> web.Application:
    """The codec endpoints behind the Host, CORS and credential gates (no authenticator: no credentials)."""
    authenticator, allowed_hosts = access.authenticator, access.allowed_hosts

    def cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        if origin in allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
        return response

    def error(request: web.Request, status: int, message: str) -> web.StreamResponse:
        return cors(request, web.json_response({"error": message}, status=status))

    @web.middleware
    async def gates(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Host", "")
        try:
            host = HostName.parse(given)
        except ValueError:
            return web.json_response({"error": "a Host header naming this server is required"}, status=400)
        if not any(allowed.admits(host) for allowed in allowed_hosts):
            return web.json_response(
                {"error": f"this codec server does not answer to Host {given!r} (see --allowed-host)"}, status=421
            )
        if request.method == "OPTIONS":  # a CORS pre-flight carries no credentials, by the Fetch standard
            allowed = request.headers.get("Origin", "") in allowed_origins
            return cors(request, web.Response(status=204 if allowed else 403))
        if authenticator is not None:
            scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
            bearer, extras = bearer.strip(), request.headers.get("Authorization-Extras")
            if scheme.lower() != "bearer" or not bearer or not await authenticator.accepts(bearer, extras):
                response = error(request, 401, "missing or unaccepted credentials: send Authorization: Bearer <token>")
                response.headers["WWW-Authenticate"] = 'Bearer realm="adeflow-codec"'
                return response
        return await handler(request)

    def endpoint(encode: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                payloads = json_format.Parse(await request.text(), Payloads())
                work = codec.encode if encode else codec.decode
                result = Payloads(payloads=await work(list(payloads.payloads)))
            except json_format.ParseError as exc:
                return error(request, 400, f"not a payloads document: {exc}")
            except CodecKeyError as exc:
                return error(request, 400, str(exc))
            return cors(request, web.Response(text=json_format.MessageToJson(result), content_type="application/json"))

        return handle

    app = web.Application(middlewares=[gates])
    for path, encode in (("/encode", True), ("/decode", False)):
        app.router.add_route("POST", path, endpoint(encode))
        app.router.add_route("OPTIONS", path, endpoint(encode))  # answered by the gates
    return app
