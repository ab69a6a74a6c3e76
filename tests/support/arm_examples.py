"""ARM's own response examples (tests/fixtures/arm-examples) and the shape check of a simulator body against one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
