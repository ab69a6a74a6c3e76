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


_SCALE_SET_INSTANCE = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute"
    r"/virtualMachineScaleSets/(?P<scale_set>[^/]+)/virtualMachines/(?P<instance>[^/]+)$",
    re.IGNORECASE,
)


def scale_set_instance(resource_id: str) -> tuple[str, str] | None:
    """(scale set, instance id) when the id names an instance of a Uniform scale set, which ARM serves under the
    scale set and never as a ``Microsoft.Compute/virtualMachines`` resource (a Flexible member is an ordinary VM)."""
    match = _SCALE_SET_INSTANCE.match(resource_id.strip().rstrip("/"))
    return (match["scale_set"], match["instance"]) if match else None


def scale_set_instance_refusal(resource_id: str) -> str | None:
    """Why adeflow does not take a Uniform scale set's instance as a VM (R-LIM-4c), or None for any other id."""
    found = scale_set_instance(resource_id)
    if found is None:
        return None
    return (
        f"{resource_id!r} is instance {found[1]} of Uniform scale set {found[0]!r}: adeflow encrypts VMs "
        "(Microsoft.Compute/virtualMachines) only; ADE on a Uniform scale set is set in the scale set's model, and "
        "the OS drive of a Linux scale set cannot be encrypted (R-LIM-4c)"
    )
