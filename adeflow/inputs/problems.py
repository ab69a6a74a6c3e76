"""What is wrong with an input file, as ``file:line: field: message``, every problem at once (exit code 2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

Loc = tuple[str | int, ...]
"""A place in a document: mapping keys and list indexes from the root, e.g. ``("vms", 3, "volume_type")``."""


def render_loc(loc: Loc) -> str:
    """``vms[3].volume_type``: how a place is named in messages."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else part
    return text


@dataclass(frozen=True)
class ManifestProblem:
    """One thing wrong with a manifest, located as precisely as the input allows."""

    source: str
    line: int
    """1-based; 0 when the input has no lines (a defaults mapping given in code)."""
    field: str
    """Dotted path such as ``vms[3].volume_type``; empty for file-level problems (YAML syntax)."""
    message: str

    def render(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ManifestError(Exception):
    """A manifest that must not start anything; ``problems`` lists everything wrong with it."""

    exit_code: Final = 2

    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(problem.render() for problem in problems))


class Problems:
    """Problems in the order found, each once; :meth:`sorted` orders them by file, then line (stable)."""

    def __init__(self) -> None:
        self._items: list[ManifestProblem] = []
        self._seen: set[ManifestProblem] = set()

    def add(self, source: str, line: int, field: str, message: str) -> None:
        item = ManifestProblem(source, line, field, message)
        if item not in self._seen:
            self._seen.add(item)
            self._items.append(item)

    def extend(self, problems: list[ManifestProblem]) -> None:
        for problem in problems:
            self.add(problem.source, problem.line, problem.field, problem.message)

    def __bool__(self) -> bool:
        return bool(self._items)

    def about(self, source: str) -> bool:
        return any(problem.source == source for problem in self._items)

    def sorted(self) -> list[ManifestProblem]:
        order = {source: i for i, source in enumerate(dict.fromkeys(p.source for p in self._items))}
        return sorted(self._items, key=lambda p: (order[p.source], p.line))
