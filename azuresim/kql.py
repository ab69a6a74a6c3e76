"""The KQL subset of Azure Resource Graph queries that fleet selectors use, evaluated over rows of dicts.

Supported: ``Resources`` (or ``ComputeResources``) ``| where … | project … | order by … | take N``; in ``where``:
``and``/``or``/``not(…)``, parentheses, ``== != =~ !~ contains !contains startswith endswith has in in~ !in !in~``,
``isempty()`` and ``isnotempty()``, fields such as ``name``, ``resourceGroup``, ``tags['env']``, ``tags.env`` or
``properties.hardwareProfile.vmSize``. Anything else is answered like Resource Graph answers a query it cannot
parse (400 ``BadRequest`` with ``InvalidQuery``/``ParserFailure`` details), never silently with wrong rows.
The tables themselves are built by :mod:`azuresim.providers.resourcegraph`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from azuresim.errors import ArmError

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<num>\d+)|(?P<op>==|!=|=~|!~|!in~|!in|in~|[|(),.\[\]])"
    r"|(?P<word>!?[A-Za-z_][A-Za-z0-9_]*))"
)
_COMPARISONS = {"==", "!=", "=~", "!~", "contains", "!contains", "startswith", "endswith", "has"}
_MEMBERSHIP = {"in", "in~", "!in", "!in~"}

Row = dict[str, Any]
_TABLE_NAMES = {"resources": "Resources", "computeresources": "ComputeResources"}
Predicate = Callable[[Row], bool]


def _invalid(message: str, position: int = 0, token: str = "") -> ArmError:
    return ArmError(
        400,
        "BadRequest",
        "Please provide below info when asking for support: the query and the time of the request.",
        details=[
            {
                "code": "InvalidQuery",
                "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service "
                "and fix the error before retrying.",
            },
            {
                "code": "ParserFailure",
                "message": message,
                "line": 1,
                "characterPositionInLine": position,
                "token": token,
            },
        ],
    )


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(query: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    text = query.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _invalid(f"unexpected character {text[pos]!r}", pos, text[pos])
        kind = m.lastgroup or ""
        value = m.group(kind)
        tokens.append(_Tok(kind, value, m.start(kind)))
        pos = m.end()
    return tokens


def _field(path: list[str]) -> Callable[[Row], Any]:
    def get(row: Row) -> Any:
        value: Any = row
        for part in path:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _compare(op: str, left: str | None, right: str) -> bool:
    if left is None:
        return op in ("!=", "!~", "!contains")
    lo, ro = left.lower(), right.lower()
    return {
        "==": left == right,
        "!=": left != right,
        "=~": lo == ro,
        "!~": lo != ro,
        "contains": ro in lo,
        "!contains": ro not in lo,
        "startswith": lo.startswith(ro),
        "endswith": lo.endswith(ro),
        "has": ro in re.split(r"[^a-z0-9]+", lo),
    }[op]


class _Parser:
    """Recursive descent over the token list; each ``where`` becomes one predicate."""

    def __init__(self, query: str) -> None:
        self.tokens = _tokenize(query)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _invalid(f"unexpected end of query{f', expected {expected!r}' if expected else ''}")
        if expected is not None and tok.text.lower() != expected:
            raise _invalid(f"expected {expected!r}, got {tok.text!r}", tok.pos, tok.text)
        self.i += 1
        return tok

    def word(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text.lower() == text

    def field_path(self) -> list[str]:
        tok = self.take()
        if tok.kind != "word":
            raise _invalid(f"expected a column name, got {tok.text!r}", tok.pos, tok.text)
        path = [tok.text]
        while self.peek() is not None and self.peek().text in (".", "["):  # type: ignore[union-attr]
            if self.take().text == ".":
                path.append(self.take().text)
            else:
                key = self.take()
                if key.kind != "str":
                    raise _invalid("expected a quoted key inside [ ]", key.pos, key.text)
                path.append(key.text[1:-1])
                self.take("]")
        return path

    def literal(self) -> str:
        tok = self.take()
        if tok.kind == "str":
            return tok.text[1:-1]
        if tok.kind == "num" or tok.text.lower() in ("true", "false"):
            return tok.text.lower()
        raise _invalid(f"expected a literal, got {tok.text!r}", tok.pos, tok.text)

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.word("or"):
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda row: any(t(row) for t in terms))

    def conjunction(self) -> Predicate:
        terms = [self.unary()]
        while self.word("and"):
            self.take()
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else (lambda row: all(t(row) for t in terms))

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok is None:
            raise _invalid("unexpected end of query, expected a condition")
        if tok.text == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        if tok.text.lower() in ("not", "isempty", "isnotempty"):
            self.take()
            self.take("(")
            if tok.text.lower() == "not":
                inner = self.expression()
                self.take(")")
                return lambda row: not inner(row)
            get = _field(self.field_path())
            self.take(")")
            empty: Predicate = lambda row: _text(get(row)) in (None, "")  # noqa: E731
            return empty if tok.text.lower() == "isempty" else (lambda row: not empty(row))
        get = _field(self.field_path())
        op = self.take()
        name = op.text.lower()
        if name in _MEMBERSHIP:
            self.take("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                values.append(self.literal())
            self.take(")")
            negate, fold = name.startswith("!"), name.endswith("~")
            wanted = {v.lower() for v in values} if fold else set(values)

            def member(row: Row) -> bool:
                value = _text(get(row))
                found = value is not None and (value.lower() if fold else value) in wanted
                return found != negate

            return member
        if name not in _COMPARISONS:
            raise _invalid(f"unsupported operator {op.text!r}", op.pos, op.text)
        right = self.literal()
        return lambda row: _compare(name, _text(get(row)), right)

    def pipeline(self, tables: Mapping[str, list[Row]]) -> list[Row]:
        table = self.take()
        rows = tables.get(table.text.lower())
        if rows is None:
            served = ", ".join(_TABLE_NAMES[name] for name in tables)
            raise _invalid(f"table {table.text!r} is not served by the simulator (only {served})", table.pos)
        while self.peek() is not None:
            self.take("|")
            op = self.take()
            verb = op.text.lower()
            if verb == "where":
                predicate = self.expression()
                rows = [row for row in rows if predicate(row)]
            elif verb == "project":
                columns = [self.field_path()]
                while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                    self.take()
                    columns.append(self.field_path())
                rows = [{path[-1]: _field(path)(row) for path in columns} for row in rows]
            elif verb in ("take", "limit"):
                count = self.take()
                if count.kind != "num":
                    raise _invalid("expected a row count", count.pos, count.text)
                rows = rows[: int(count.text)]
            elif verb in ("order", "sort"):
                self.take("by")
                get = _field(self.field_path())
                descending = True
                if self.word("asc") or self.word("desc"):
                    descending = self.take().text.lower() == "desc"
                rows = sorted(rows, key=lambda row: _text(get(row)) or "", reverse=descending)
            else:
                raise _invalid(f"operator {op.text!r} is not served by the simulator", op.pos, op.text)
        return rows


def run_query(query: str, rows: list[Row], compute_rows: list[Row] | None = None) -> list[Row]:
    """Evaluate ``query`` over the ``Resources`` table ``rows`` (and ``ComputeResources``, where Resource Graph keeps
    Uniform scale-set instances, when given); raises a Resource-Graph-shaped 400 for anything unsupported."""
    if not query.strip():
        raise _invalid("the query is empty")
    tables = {"resources": rows}
    if compute_rows is not None:
        tables["computeresources"] = compute_rows
    return _Parser(query).pipeline(tables)
