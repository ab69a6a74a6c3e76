"""ARM's own response examples (tests/fixtures/arm-examples), the shape check of a simulator body against one, and
``Raw``: plain HTTPS requests to the simulator (no SDK), for comparing its answers with ARM's byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from tests.support.frozen_sim import Sim

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "arm-examples"
# Free-form objects (the extension's public settings, the job's property bag): not compared.
OPAQUE = {".properties.settings", ".properties.extendedInfo.propertyBag"}


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def shape_errors(ours: Any, example: Any, path: str = "") -> list[str]:
    """Keys of ``ours`` missing from ``example`` or of another JSON type (a null in the example matches anything)."""
    if example is None or path in OPAQUE:
        return []
    if _jtype(ours) != _jtype(example):
        return [f"{path}: {_jtype(ours)} where the example has {_jtype(example)}"]
    errors: list[str] = []
    if isinstance(ours, dict):
        for key, value in ours.items():
            if key not in example:
                errors.append(f"{path}.{key}")
            else:
                errors += shape_errors(value, example[key], f"{path}.{key}")
    elif isinstance(ours, list) and ours and example:
        merged: Any = example[0]
        if all(isinstance(e, dict) for e in example):
            merged = {}
            for e in example:
                for k, v in e.items():
                    merged.setdefault(k, v)
        for item in ours:
            errors += shape_errors(item, merged, f"{path}[]")
    return sorted(set(errors))


class Raw:
    """Requests to the simulator as they go over the wire, with a token, verified against the simulator's CA."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.base = sim.server.base_url
        self.verify = str(sim.server.ca_path)
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer conformance"

    def call(self, method: str, path: str, api: str | None, body: Any = None, raw: bytes | None = None) -> Any:
        sep = "&" if "?" in path else "?"
        url = self.base + path + (f"{sep}api-version={api}" if api else "")
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return self.session.request(method, url, data=data, headers=headers, verify=self.verify)

    def get_url(self, url: str) -> Any:
        """GET an absolute URL the simulator handed out (an ``Azure-AsyncOperation`` or ``Location`` header)."""
        return self.session.get(url, verify=self.verify)
