"""Real ARM traffic recorded by the Azure CLI (tests/fixtures/azure-cli-recordings) and the key-by-key comparison of a
simulator answer with a recorded one.

A recorded answer is one sample of what ARM sends, so the comparison is of shape, not values: the status code, which
LRO headers are present (and the kind of URL they point at), the set of keys at every level in both directions, the
JSON types, the casing of enum-like values, and the phase words (``provisioningState``, ``status``) of an answer the
test provoked in the same phase. Every difference is a path string; the tests hold them against commented
allow-lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "azure-cli-recordings"
LRO_HEADERS = ("Azure-AsyncOperation", "Location", "Retry-After")
# Keys whose string values are enum members: their casing must match ARM's.
ENUM_KEYS = frozenset(
    {
        "caching",
        "code",
        "createOption",
        "deleteOption",
        "diskControllerType",
        "diskState",
        "hyperVGeneration",
        "level",
        "networkAccessPolicy",
        "osType",
        "provisioningState",
        "publicNetworkAccess",
        "securityType",
        "status",
        "storageAccountType",
    }
)
# Keys that say which phase an operation is in: the tests provoke the recorded phase, so the word must be the same.
PHASE_KEYS = frozenset({"provisioningState", "status"})
# Free-form objects whose keys are the caller's (the extension's public settings, tags): not compared.
OPAQUE = frozenset({".properties.settings", ".resources[].properties.settings", ".tags"})
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Recorded:
    """One recorded interaction: where it comes from and what ARM answered."""

    file: str
    index: int
    operation: str
    variant: str
    command: str
    method: str
    uri: str
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def key(self) -> str:
        """``file#index operation (variant)``: how a test names the interaction it compares."""
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.file}#{self.index} {self.operation}{variant}"


def recording_files() -> list[Path]:
    return sorted(RECORDINGS.glob("*.json"))


def load(name: str) -> list[Recorded]:
    data = json.loads((RECORDINGS / name).read_text())
    out = []
    for i, item in enumerate(data["interactions"]):
        response = item["response"]
        out.append(
            Recorded(
                file=name,
                index=i,
                operation=item["operation"],
                variant=item.get("variant", ""),
                command=item["command"],
                method=item["request"]["method"],
                uri=item["request"]["uri"],
                status=response["status"],
                headers=dict(response["headers"]),
                body=response["body"],
            )
        )
    return out


def format_problems(data: Any) -> list[str]:
    """What is wrong with one vendored file: its source must be named (repository, path, commit, licence) and each
    interaction must say what it is and hold a status, LRO headers only, and a JSON body (or null)."""
    problems: list[str] = []
    source = data.get("source") if isinstance(data, dict) else None
    if not isinstance(source, dict):
        return ["no source"]
    if source.get("repository") != "Azure/azure-cli":
        problems.append("source.repository is not Azure/azure-cli")
    path = str(source.get("path", ""))
    if not path.startswith("src/azure-cli/azure/cli/command_modules/vm/tests/latest/recordings/"):
        problems.append(f"source.path is not a VM module recording: {path!r}")
    if not _COMMIT.match(str(source.get("commit", ""))):
        problems.append("source.commit is not a 40-hex commit")
    if source.get("license") != "MIT":
        problems.append("source.license is not MIT")
    interactions = data.get("interactions")
    if not isinstance(interactions, list) or not interactions:
        return [*problems, "no interactions"]
    for i, item in enumerate(interactions):
        where = f"interactions[{i}]"
        if not isinstance(item.get("operation"), str) or not item["operation"]:
            problems.append(f"{where}: no operation")
        if not isinstance(item.get("command"), str) or not item["command"]:
            problems.append(f"{where}: no command")
        request = item.get("request") or {}
        if request.get("method") not in ("GET", "PUT", "POST", "DELETE", "PATCH"):
            problems.append(f"{where}: request.method")
        if not str(request.get("uri", "")).startswith("/subscriptions/00000000-0000-0000-0000-000000000000/"):
            problems.append(f"{where}: request.uri is not a scrubbed ARM path")
        response = item.get("response") or {}
        if not isinstance(response.get("status"), int):
            problems.append(f"{where}: response.status")
        headers = response.get("headers")
        if not isinstance(headers, dict) or not set(headers) <= set(LRO_HEADERS):
            problems.append(f"{where}: response.headers must hold LRO headers only")
        if "body" not in response or not (response["body"] is None or isinstance(response["body"], dict)):
            problems.append(f"{where}: response.body must be an object or null")
    return problems


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def _last_word(code: str) -> str:
    words = [w for w in code.split("/") if any(c.isalpha() for c in w)]
    return words[-1] if words else ""


def _enum_problem(key: str, ours: str, recorded: str) -> str | None:
    if key == "code":  # "ProvisioningState/succeeded": the prefix as ARM spells it, the state word in lower case
        prefix, rec_prefix = ours.split("/", 1)[0], recorded.split("/", 1)[0]
        if prefix.lower() != rec_prefix.lower():
            return None  # another kind of status: nothing to compare it with
        if prefix != rec_prefix:
            return f"{ours!r} where ARM spells {recorded!r}"
        if _last_word(ours).islower() != _last_word(recorded).islower():
            return f"{ours!r}: state word cased unlike ARM's {recorded!r}"
        return None
    if ours.lower() == recorded.lower():
        return None if ours == recorded else f"{ours!r} where ARM sends {recorded!r}"
    if ours[:1].isupper() != recorded[:1].isupper():
        return f"{ours!r} cased unlike ARM's {recorded!r}"
    return None


def _item_template(item: Any, recorded: list[Any]) -> tuple[Any, set[str] | None]:
    """What one of our list items is compared with: the recorded item of the same kind (an instance-view status with
    the same ``code`` prefix), else the union of the recorded items' keys, of which only the keys every recorded
    item has are required."""
    if not all(isinstance(r, dict) for r in recorded):
        return recorded[0], None
    if isinstance(item, dict) and isinstance(item.get("code"), str):
        prefix = item["code"].split("/", 1)[0].lower()
        for r in recorded:
            if str(r.get("code", "")).split("/", 1)[0].lower() == prefix:
                return r, None
        required: set[str] | None = set()  # a kind of status ARM did not show here: only its keys are checked
    else:
        required = None
    union: dict[str, Any] = {}
    for r in recorded:
        for k, v in r.items():
            union.setdefault(k, v)
    return union, set.intersection(*(set(r) for r in recorded)) if required is None else required


def shape_diff(ours: Any, recorded: Any, path: str = "", required: set[str] | None = None) -> list[str]:
    """Differences of ``ours`` from ``recorded``: ``missing <path>`` (ARM sent the key, we did not), ``extra <path>``
    (we sent a key ARM did not), ``type <path>: …``, ``enum <path>: …``, ``phase <path>: …``. A null on either side
    matches anything; list items are compared with the recorded item of their kind (``_item_template``)."""
    if path in OPAQUE or ours is None or recorded is None:
        return []
    if _jtype(ours) != _jtype(recorded):
        return [f"type {path}: {_jtype(ours)} where ARM sent {_jtype(recorded)}"]
    diffs: list[str] = []
    if isinstance(ours, dict):
        for key in (recorded.keys() if required is None else required) - ours.keys():
            diffs.append(f"missing {path}.{key}")
        for key in ours.keys() - recorded.keys():
            diffs.append(f"extra {path}.{key}")
        for key in ours.keys() & recorded.keys():
            value, rec = ours[key], recorded[key]
            if isinstance(value, str) and isinstance(rec, str):
                if key in ENUM_KEYS and (problem := _enum_problem(key, value, rec)):
                    diffs.append(f"enum {path}.{key}: {problem}")
                if key in PHASE_KEYS and value != rec:
                    diffs.append(f"phase {path}.{key}: {value!r} where ARM sent {rec!r}")
            diffs += shape_diff(value, rec, f"{path}.{key}")
    elif isinstance(ours, list) and ours and recorded:
        for item in ours:
            template, keys = _item_template(item, recorded)
            diffs += shape_diff(item, template, f"{path}[]", keys)
    return sorted(set(diffs))


def lro_url_shape(url: str) -> tuple[str, bool]:
    """(collection, monitor) of an LRO URL: ``operations`` (Compute) or ``DiskOperations`` (disk RP), and whether it
    is the ``monitor=true`` (Location) form."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    collection = segments[-2] if len(segments) >= 2 else ""
    return collection, "monitor=true" in parts.query.lower()


def header_diff(ours: dict[str, str], recorded: dict[str, str]) -> list[str]:
    """Which LRO headers are present on one side only, and LRO URLs of another kind (collection, monitor form)."""
    lowered = {k.lower(): v for k, v in ours.items()}
    diffs: list[str] = []
    for name in LRO_HEADERS:
        ours_value, rec_value = lowered.get(name.lower()), recorded.get(name)
        if rec_value is not None and ours_value is None:
            diffs.append(f"missing header {name}")
        elif rec_value is None and ours_value is not None:
            diffs.append(f"extra header {name}")
        elif (
            rec_value is not None
            and ours_value is not None
            and name != "Retry-After"
            and lro_url_shape(ours_value) != lro_url_shape(rec_value)
        ):
            diffs.append(f"header {name}: {lro_url_shape(ours_value)} where ARM sent {lro_url_shape(rec_value)}")
    return diffs
