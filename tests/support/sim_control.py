"""The simulator's control endpoints over HTTPS, as an operator's script or another tool would call them.

``change_vm(server, "web-01", "deallocate", after_s=3600)`` posts to ``/_sim/vms/web-01/deallocate``; the change
happens ``after_s`` simulated seconds later (0: at once). Errors come back as :class:`ControlError` with the status.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from azuresim.server import SimServer


class ControlError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def control(server: SimServer, method: str, path: str, body: Any = None) -> Any:
    """One request to a ``/_sim/`` endpoint; the decoded JSON answer."""
    ctx = ssl.create_default_context(cafile=str(server.ca_path))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.base_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise ControlError(exc.code, json.loads(exc.read() or b"{}")) from None


def change_vm(server: SimServer, vm: str, change: str, *, after_s: float = 0.0, **body: Any) -> dict[str, Any]:
    """``remove-extension``, ``deallocate``, ``attach-disk``, ``tags`` or ``extension-status`` (azuresim/control.py)."""
    answer: dict[str, Any] = control(server, "POST", f"/_sim/vms/{vm}/{change}", {"after_s": after_s, **body})
    return answer
