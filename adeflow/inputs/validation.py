"""Pydantic models over :mod:`adeflow.inputs.yaml_nodes` documents: every error at its ``file:line``, in our words.

Each section of a file (the rollout, the defaults, one VM, one selector...) is checked by a strict model
(``extra="forbid"``, no coercion) whose fields parse with the :mod:`adeflow.domain.values` validators. All of a
section's problems are reported at once; the fields that were wrong are then dropped and the section is
validated again, so rules that span fields and objects still run on what was right (and stay quiet about what
was already reported). Fields are optional here: which ones a section needs is said by the code that reads it,
in messages that say how to fix it.
"""

from __future__ import annotations

import copy
import types
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from adeflow.domain.values import kind_of, suggest
from adeflow.inputs.problems import Loc
from adeflow.inputs.yaml_nodes import At, given

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A section of an input file: known keys only, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class What:
    """Field metadata: what the field holds, for ``expected a list of <what>``."""

    text: str


@dataclass(frozen=True)
class Checked(Generic[M]):
    model: M
    """The section with every field that was given and right (wrong ones are left at their defaults, None)."""
    given: frozenset[str]
    """Fields given a value (``null`` is no value)."""
    invalid: frozenset[str]
    """Fields given but wrong: already reported."""

    def ok(self, name: str) -> bool:
        return name in self.given and name not in self.invalid


def check(model: type[M], at: At, *, expected: str = "") -> Checked[M] | None:
    """Validate the mapping at ``at`` with ``model``; report every problem; None if it is not a mapping."""
    raw = at.raw
    if not isinstance(raw, dict):
        at.report(expected or f"expected a mapping with keys {', '.join(model.model_fields)}; got {kind_of(raw)}")
        return None
    data = {k: v for k, v in raw.items() if v is not None or k not in model.model_fields}  # null = not given
    try:
        return Checked(model.model_validate(data), frozenset(given(raw)), frozenset())
    except ValidationError as exc:
        errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    extras: list[Loc] = []
    invalid: set[str] = set()
    for error in errors:
        loc: Loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            extras.append(loc)
        elif loc:
            invalid.add(str(loc[0]))
        message, on_key = _message(model, loc, error)
        place = at
        for part in loc:
            place = place.child(part)
        place.report(message, key=on_key)
    pruned = copy.deepcopy({k: v for k, v in data.items() if k not in invalid})
    for loc in extras:
        _drop(pruned, loc)
    try:
        instance = model.model_validate(pruned)
    except ValidationError:  # pragma: no cover - every wrong field was dropped; nothing left to fail
        return None
    return Checked(instance, frozenset(k for k in data if k in model.model_fields), frozenset(invalid))


def _drop(data: Any, loc: Loc) -> None:
    for part in loc[:-1]:
        data = data.get(part) if isinstance(data, dict) else None
    if isinstance(data, dict):
        data.pop(loc[-1], None)


def _message(model: type[BaseModel], loc: Loc, error: ErrorDetails) -> tuple[str, bool]:
    """Our message for a pydantic error, and whether it belongs on the key's line (unknown keys)."""
    kind = error["type"]
    got = kind_of(error.get("input"))
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = list(owner.model_fields) if owner else []
        key = str(loc[-1])
        return f'unknown key "{key}"; {suggest(key, allowed)}allowed keys: {", ".join(allowed)}', True
    if kind in ("value_error", "assertion_error"):
        return str(error.get("ctx", {}).get("error", error["msg"])), False
    what = _what(model, loc)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        nested = _model_at(model, loc)
        if nested is not None:
            return f"expected a mapping with keys {', '.join(nested.model_fields)}; got {got}", False
        return f"expected {what or 'a mapping'}; got {got}", False
    if kind in ("list_type", "tuple_type"):
        return f"expected a list of {what or 'values'}; got {got}", False
    if kind == "string_type":
        return f"expected {what or 'a string'}; got {got}", False
    if kind == "int_type":
        return f"expected a whole number; got {got}", False
    if kind == "bool_type":
        return f"expected true or false; got {got}", False
    return f"{error['msg']}; got {got}", False


def _unwrap(annotation: Any) -> Any:
    """The type inside ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            if info is None:
                return None
            current = _unwrap(info.annotation)
        elif get_origin(current) in (list, tuple, dict):
            current = _unwrap(get_args(current)[-1])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _what(model: type[BaseModel], loc: Loc) -> str:
    owner = _model_at(model, loc[:-1]) if loc and isinstance(loc[-1], str) else None
    info = owner.model_fields.get(str(loc[-1])) if owner else None
    for item in info.metadata if info else []:
        if isinstance(item, What):
            return item.text
    return ""
