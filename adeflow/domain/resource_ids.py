"""Parsing of ARM resource ids, the one string format every Azure input arrives in."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResourceId:
    subscription_id: str
    resource_group: str
    namespace: str
    resource_type: str
    name: str

    @property
    def provider_type(self) -> str:
        return f"{self.namespace}/{self.resource_type}"


def parse_resource_id(resource_id: str) -> ResourceId:
    """Split a top-level ARM resource id; raise ``ValueError`` naming the id when it is malformed."""
    match = _ID.match(resource_id.strip().rstrip("/"))
    if not match:
        raise ValueError(
            f"malformed ARM resource id {resource_id!r}: expected "
            "/subscriptions/<sub>/resourceGroups/<rg>/providers/<Namespace>/<type>/<name>"
        )
    return ResourceId(match["sub"], match["rg"], match["ns"], match["type"], match["name"])
