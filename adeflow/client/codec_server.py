"""The codec server the Temporal UI and CLI call to show encrypted payloads to operators who hold the key.

It speaks Temporal's remote codec protocol: ``POST /encode`` and ``POST /decode`` with
``{"payloads": [{"metadata": {k: base64}, "data": base64}]}`` (the protobuf JSON form), and answers CORS
pre-flights for the UI's origin only. Run it where the key is, bound to loopback by default: anyone who can
reach it can read every payload. Point the UI at it (Settings -> Codec Server) or set ``--codec-endpoint`` on
the ``temporal`` CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from adeflow.client.codec import CodecKeyError, EncryptionCodec

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(codec: EncryptionCodec, allowed_origins: tuple[str, ...]) -> web.Application:
    def cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        if origin in allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "content-type, x-namespace, authorization"
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    def endpoint(encode: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            if request.method == "OPTIONS":
                return cors(request, web.Response(status=200))
            try:
                payloads = json_format.Parse(await request.text(), Payloads())
                work = codec.encode if encode else codec.decode
                result = Payloads(payloads=await work(list(payloads.payloads)))
            except json_format.ParseError as exc:
                return cors(request, web.json_response({"error": f"not a payloads document: {exc}"}, status=400))
            except CodecKeyError as exc:
                return cors(request, web.json_response({"error": str(exc)}, status=400))
            return cors(request, web.Response(text=json_format.MessageToJson(result), content_type="application/json"))

        return handle

    app = web.Application()
    for path, encode in (("/encode", True), ("/decode", False)):
        app.router.add_route("POST", path, endpoint(encode))
        app.router.add_route("OPTIONS", path, endpoint(encode))
    return app
