"""YAML text to plain Python values, remembering the line of every value and key, so that a problem found later
(by a pydantic model or a rule that spans objects) is reported at ``file:line``.

Plain scalars keep YAML's types (``5`` is a number, ``true`` a flag), and the text as written is kept too, for
the few places that take any scalar as text (tag values: ``ade: yes`` means the string ``yes``). Merge keys
(``<<: *base``) are applied with the mapping's own keys winning; duplicate keys are reported. Aliases that refer
to themselves, unknown tags and documents that expand past :data:`MAX_NODES` are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark, MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from adeflow.domain.values import kind_of
from adeflow.inputs.problems import Loc, Problems, render_loc

MAX_NODES: Final = 1_000_000
"""Values after alias expansion: far above a 50,000-VM manifest, far below a "billion laughs" document."""

_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "binary")
)
_COLLECTION_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("map", "seq", "set", "omap", "pairs"))
_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class Doc:
    """One input document as plain values, with the line of each value (and of each mapping key)."""

    source: str
    problems: Problems
    root: Any = None
    empty: bool = True
    """No document at all (an empty file, or only comments)."""
    lines: dict[Loc, int] = field(default_factory=dict)
    key_lines: dict[Loc, int] = field(default_factory=dict)
    texts: dict[Loc, str] = field(default_factory=dict)
    """Scalars as written."""

    def get(self, loc: Loc) -> Any:
        value = self.root
        for part in loc:
            in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
            if not (in_list or (isinstance(value, dict) and part in value)):
                return None
            value = value[part]
        return value

    def line(self, loc: Loc, *, key: bool = False) -> int:
        """The line of the value at ``loc`` (of its key with ``key``), else of the nearest enclosing value."""
        if key and loc in self.key_lines:
            return self.key_lines[loc]
        while True:
            if loc in self.lines:
                return self.lines[loc]
            if not loc:
                return 0
            loc = loc[:-1]


@dataclass(frozen=True)
class At:
    """A place in a document and how messages name it (a defaults file's settings are named ``defaults.*``)."""

    doc: Doc
    loc: Loc = ()
    path: Loc = ()

    def child(self, key: str | int) -> At:
        return At(self.doc, (*self.loc, key), (*self.path, key))

    @property
    def raw(self) -> Any:
        return self.doc.get(self.loc)

    @property
    def field(self) -> str:
        return render_loc(self.path)

    def line(self, *, key: bool = False) -> int:
        return self.doc.line(self.loc, key=key)

    def report(self, message: str, *, key: bool = False, at: At | None = None) -> None:
        """A problem named by this place, on the line of this place (of its key) or of ``at``."""
        line = (at or self).line(key=key)
        self.doc.problems.add(self.doc.source, line, self.field, message)


def given(raw: object) -> dict[str, Any]:
    """A mapping's keys that carry a value: ``null`` or an omitted key both mean the default."""
    return {k: v for k, v in raw.items() if v is not None} if isinstance(raw, dict) else {}


def doc_from_mapping(mapping: Mapping[str, Any], source: str, problems: Problems) -> Doc:
    """A document given in code (no lines: problems name the source only)."""
    return Doc(source, problems, dict(mapping), empty=False)


def load_yaml(text: str, source: str, problems: Problems) -> Doc | None:
    """The document in ``text``; None after reporting a syntax error or a refused construct."""
    doc = Doc(source, problems)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        detail = error.problem or "malformed YAML"
        if error.context:
            detail = f"{detail} ({error.context}"
            detail += f" at line {error.context_mark.line + 1})" if error.context_mark else ")"
        problems.add(source, _mark_line(mark), "", f"YAML syntax error: {detail}")
        return None
    except yaml.YAMLError as error:
        position = getattr(error, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 0
        problems.add(source, line, "", f"YAML syntax error: {str(error).splitlines()[0]}")
        return None
    if node is None:
        return doc
    try:
        doc.root = _Builder(doc).value(node, ())
    except _Refused as refused:
        problems.add(source, refused.line, render_loc(refused.loc), refused.message)
        return None
    doc.empty = False
    return doc


class _Refused(Exception):
    def __init__(self, line: int, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.line, self.loc, self.message = line, loc, message


class _Builder:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.constructor = SafeConstructor()
        self.count = 0
        self.open: set[int] = set()
        """Collections being built: meeting one again means an alias that contains itself."""

    def value(self, node: Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Refused(_line(node), loc, f"the document expands to more than {MAX_NODES:,} values (aliases?)")
        self.doc.lines[loc] = _line(node)
        if isinstance(node, ScalarNode):
            if node.tag not in _PLAIN_TAGS:
                raise _Refused(_line(node), loc, f"unsupported YAML tag {node.tag}")
            self.doc.texts[loc] = node.value
            return self.constructor.construct_object(node)
        if node.tag not in _COLLECTION_TAGS:
            raise _Refused(_line(node), loc, f"unsupported YAML tag {node.tag}")
        if id(node) in self.open:
            raise _Refused(_line(node), loc, "an alias refers to a collection that contains it")
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.value(item, (*loc, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return {key: self.value(value, (*loc, key)) for key, value in self.pairs(node, loc).items()}
        finally:
            self.open.discard(id(node))

    def pairs(self, node: MappingNode, loc: Loc) -> dict[str, Node]:
        """Keys to value nodes: merged keys first, the mapping's own keys winning; bad and duplicate keys reported."""
        problems, source = self.doc.problems, self.doc.source
        explicit: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                problems.add(
                    source, _line(key_node), render_loc(loc), f"keys must be plain words; got {_kind(key_node)}"
                )
                continue
            key = str(key_node.value)
            if key in explicit:
                first = self.doc.key_lines[(*loc, key)]
                problems.add(
                    source, _line(key_node), render_loc((*loc, key)), f"duplicate key (first given at line {first})"
                )
            self.doc.key_lines[(*loc, key)] = _line(key_node)
            explicit[key] = value_node
        merged: dict[str, Node] = {}
        if any(key_node.tag == _MERGE for key_node, _ in node.value):
            flat = MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark)
            try:
                self.constructor.flatten_mapping(flat)
            except MarkedYAMLError as error:
                problems.add(source, _mark_line(error.problem_mark), render_loc(loc), f"bad merge key: {error.problem}")
            for key_node, value_node in flat.value:
                if isinstance(key_node, ScalarNode) and str(key_node.value) not in explicit:
                    merged[str(key_node.value)] = value_node
                    self.doc.key_lines.setdefault((*loc, str(key_node.value)), _line(key_node))
        return {**merged, **explicit}


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1 if node.start_mark is not None else 0


def _mark_line(mark: Mark | None) -> int:
    return int(mark.line) + 1 if mark is not None else 0


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return kind_of(SafeConstructor().construct_object(node)) if node.tag in _PLAIN_TAGS else f"a {node.tag}"
