"""The deployment files as data, for tests that check them without a container engine (none runs here).

``docker-compose.yml`` (and its override files) as parsed YAML with Compose's interpolation, and the
``Dockerfile`` as stages of instructions, enough to check what Compose and BuildKit would do with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-+?])(?P<arg>[^}]*))?\}")
"""Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:+replacement}``, ``${VAR:?error}`` (and without the colon)."""


class Unset(Exception):
    """A ``${VAR:?message}`` whose variable is not set: Compose refuses the file with that message."""


def load_compose(path: Path = COMPOSE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """The value Compose gives ``text`` in environment ``env`` (``$$`` is a literal ``$``)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        value = env.get(name)
        given = bool(value) if op.startswith(":") else value is not None
        if op.endswith("-"):
            return value if given and value is not None else arg
        if op.endswith("+"):
            return arg if given else ""
        if op.endswith("?"):
            if not given or value is None:
                raise Unset(f"{name}: {arg}")
            return value
        return value or ""

    return INTERPOLATION.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def variables(text: str) -> set[str]:
    return {match["name"] for match in INTERPOLATION.finditer(text.replace("$$", ""))}


def environment(service: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(name, raw value or None for a pass-through name) for either of Compose's two environment syntaxes."""
    env = service.get("environment") or []
    if isinstance(env, dict):
        return [(name, None if value is None else str(value)) for name, value in env.items()]
    pairs: list[tuple[str, str | None]] = []
    for entry in env:
        name, sep, value = str(entry).partition("=")
        pairs.append((name, value if sep else None))
    return pairs


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


@dataclass
class Stage:
    name: str
    base: str
    """The image or the earlier stage it starts from."""
    instructions: list[tuple[str, str]] = field(default_factory=list)
    """(KEYWORD, arguments), continuation lines joined."""

    def args(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    stages: list[Stage] = []
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, words[0]))
        else:
            stages[-1].instructions.append((keyword, " ".join(args.split())))
    return stages


def chain(stages: list[Stage], name: str) -> list[Stage]:
    """The stage and the stages it builds on, first the external image's."""
    by_name = {stage.name: stage for stage in stages}
    found = [by_name[name]]
    while found[0].base in by_name:
        found.insert(0, by_name[found[0].base])
    return found
