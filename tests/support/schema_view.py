"""A YAML document as a JSON Schema sees it in an editor (YAML 1.2: no timestamp type, so an unquoted
``2026-11-07T22:00:00Z`` stays the text it is), for the tests that hold the loaders and the schemas to one verdict."""

from __future__ import annotations

from typing import Any

import yaml

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader without YAML 1.1's implicit timestamps."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def json_view(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)
