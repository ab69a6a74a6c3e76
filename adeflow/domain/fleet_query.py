"""Fleet selectors as data: what to ask Azure for, and the pure rules for what counts as a match.

A manifest selector names VMs found at run time, by tags (subscription, optional resource group) or by an Azure
Resource Graph query. ``VmQuery`` is what crosses into the activity that asks Azure; ``VmQueryResult`` is what
comes back. Matching and merging are here, free of I/O, so they are unit-tested and identical in the dry run
(``rollout check``) and in the rollout workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adeflow.domain.model import VmRef
from adeflow.domain.resource_ids import scale_set_instance

VM_TYPE = "microsoft.compute/virtualmachines"


@dataclass(frozen=True)
class VmQuery:
    """One selector: tags in a subscription (+ resource group), or a Resource Graph query over subscriptions."""

    subscription_id: str = ""
    resource_group: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    resource_graph: str = ""
    subscriptions: list[str] = field(default_factory=list)
    source: str = ""
    """Where the selector came from (``manifest.yaml:12``), for reports."""

    def describe(self) -> str:
        if self.resource_graph:
            scope = ", ".join(self.subscriptions) or "every subscription the identity can read"
            return f"Resource Graph query over {scope}"
        where = f"resource group {self.resource_group}" if self.resource_group else "every resource group"
        tags = ", ".join(f"{k}={v}" for k, v in self.tags.items()) or "any tags"
        return f"VMs in subscription {self.subscription_id}, {where}, tagged {tags}"


@dataclass(frozen=True)
class VmQueryResult:
    query: VmQuery
    vms: list[VmRef]
    ignored: list[str] = field(default_factory=list)
    """Rows of a Resource Graph query that are not VMs (a disk, a vault…), by resource id."""


def graph_row_vm(resource_id: str, resource_type: str) -> VmRef | None:
    """The VM a Resource Graph row names, or None for a row to ignore: another type (a disk, a scale set) or a
    Uniform scale set's instance (``ComputeResources``; R-LIM-4c: adeflow encrypts VMs, not scale-set instances).
    A Flexible scale set's member is an ordinary VM and is taken."""
    if (resource_type or VM_TYPE).lower() != VM_TYPE or "/virtualmachines/" not in resource_id.lower():
        return None
    if scale_set_instance(resource_id) is not None:
        return None
    return VmRef.from_resource_id(resource_id)


def tags_match(vm_tags: Mapping[str, str] | None, wanted: Mapping[str, str]) -> bool:
    """Every wanted tag present with that value. Names compare case-insensitively and values exactly, as ARM
    treats them (tag names are case-insensitive, values case-sensitive)."""
    have = {k.lower(): v for k, v in (vm_tags or {}).items()}
    return all(have.get(name.lower()) == value for name, value in wanted.items())


def merge_selected(explicit: list[VmRef], found: list[list[VmRef]]) -> list[list[VmRef]]:
    """Per selector, the VMs it adds: a VM listed explicitly or found by an earlier selector is not repeated,
    so its settings come from the most specific place (the VM entry, else the first selector that found it)."""
    seen = {ref.key.lower() for ref in explicit}
    added: list[list[VmRef]] = []
    for refs in found:
        mine: list[VmRef] = []
        for ref in refs:
            if ref.key.lower() not in seen:
                seen.add(ref.key.lower())
                mine.append(ref)
        added.append(mine)
    return added
