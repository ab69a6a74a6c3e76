"""The fleet part that manifests and campaign files share: the ``rollout`` policy, ``vms`` and ``selectors``.

A VM is a resource id, or a mapping with ``id`` or ``subscription, resource_group, name`` plus any settings; a
selector names VMs found at run time, by ``subscription`` (+ ``resource_group``, ``tags``) or by a
``resource_graph`` query over ``subscriptions``, plus any settings. Each VM is listed once. In a migration manifest
(:data:`~adeflow.inputs.settings_block.MIGRATION`) an entry may also carry ``migrate`` settings, which
:mod:`adeflow.inputs.migrate_block` reads; the functions ending in ``_entries`` return each result with its place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import AfterValidator, PlainValidator

from adeflow.domain import values
from adeflow.domain.fleet import FailureBudget, ResolvedVm, RolloutPolicy, Selector
from adeflow.domain.model import VmRef
from adeflow.inputs.settings_block import (
    INVALID,
    ROLLOUT,
    Given,
    Purpose,
    ResourceGroup,
    Settings,
    SettingsFields,
    SubscriptionId,
    read_settings,
    resolve,
)
from adeflow.inputs.validation import Checked, Strict, What, check
from adeflow.inputs.yaml_nodes import At

MAX_CONCURRENCY: Final = 1000
"""Running children per fleet workflow; Temporal caps pending children at 2,000 (docs/original-design.md §4)."""


def _count(minimum: int, maximum: int | None = None) -> Callable[[object], int]:
    return lambda value: values.parse_whole_number(value, minimum, maximum)


def _some_waves(sizes: list[int] | None) -> tuple[int, ...] | None:
    if sizes is not None and not sizes:
        raise ValueError("give at least one wave size, e.g. [5, 25, 100]")
    return None if sizes is None else tuple(sizes)


Concurrency = Annotated[int, PlainValidator(_count(1, MAX_CONCURRENCY))]
Positive = Annotated[int, PlainValidator(_count(1))]
Duration = Annotated[float, PlainValidator(values.parse_duration)]


class RolloutFields(Strict):
    name: Annotated[str, PlainValidator(values.parse_rollout_name)] | None = None
    concurrency: Concurrency | None = None
    per_subscription_concurrency: Concurrency | None = None
    canary: Positive | None = None
    waves: Annotated[list[Positive] | None, What("wave sizes"), AfterValidator(_some_waves)] = None
    failure_budget: Annotated[FailureBudget, PlainValidator(values.parse_failure_budget)] | None = None
    poll_interval: Duration | None = None
    encryption_deadline: Duration | None = None
    encryption_rate: Annotated[float, PlainValidator(values.parse_rate_gb_per_hour)] | None = None
    """GB per hour: the fastest rate the run expects, for the poll schedule's first read (issue 18)."""


_POLICY_FIELDS = {
    "poll_interval": "poll_interval_s",
    "encryption_deadline": "encryption_deadline_s",
    "encryption_rate": "encryption_gb_per_hour",
}


def read_rollout(at: At) -> dict[str, Given]:
    """One ``rollout`` section, keyed by :class:`RolloutPolicy` field; wrong values are :data:`INVALID`."""
    checked = check(RolloutFields, at)
    found: dict[str, Given] = {}
    for key in RolloutFields.model_fields if checked else ():
        if checked is not None and key in checked.given:
            place = at.child(key)
            value = INVALID if key in checked.invalid else getattr(checked.model, key)
            found[_POLICY_FIELDS.get(key, key)] = Given(value, at.doc.source, place.line(), place.field, 0)
    return found


def rollout_policy(given: dict[str, Given], at: At) -> RolloutPolicy:
    policy = RolloutPolicy(**{k: g.value for k, g in given.items() if g.value is not INVALID})
    deadline = given.get("encryption_deadline_s")
    if (
        deadline is not None
        and deadline.value is not INVALID
        and policy.encryption_deadline_s <= policy.poll_interval_s
    ):
        at.doc.problems.add(deadline.source, deadline.line, deadline.field, "must be longer than rollout.poll_interval")
    return policy


# ---------------------------------------------------------------------------------------------------- VMs


class VmIdentity(Strict):
    id: Annotated[VmRef, PlainValidator(values.parse_vm_id)] | None = None
    subscription: SubscriptionId | None = None
    resource_group: ResourceGroup | None = None
    name: Annotated[str, PlainValidator(lambda v: values.parse_name_segment(v, "a VM name"))] | None = None


class MigrateKey(Strict):
    migrate: Any = None
    """A migration manifest's per-entry ``migrate`` settings (read by :mod:`adeflow.inputs.migrate_block`)."""


class VmEntry(MigrateKey, SettingsFields, VmIdentity):
    """A VM named by id or by subscription, resource group and name, with its own settings."""


_TRIPLE = ("subscription", "resource_group", "name")


def read_vms(entries: list[At], defaults: Settings, purpose: Purpose = ROLLOUT) -> list[ResolvedVm]:
    """Each entry as a VM with its merged settings; every VM once (names compare without case)."""
    return [vm for _, vm in read_vm_entries(entries, defaults, purpose)]


def read_vm_entries(entries: list[At], defaults: Settings, purpose: Purpose = ROLLOUT) -> list[tuple[At, ResolvedVm]]:
    vms: list[tuple[At, ResolvedVm]] = []
    first: dict[str, At] = {}
    for at in entries:
        vm = _vm(at, defaults, purpose)
        ref = vm.ref if vm is not None else _quiet_ref(at.raw)
        if ref is None:
            continue
        key = ref.key.lower()
        if key in first:
            other = first[key]
            at.report(
                f"duplicate VM {ref.key}: already listed as {other.field} at line {other.line()}; list each VM once"
            )
            continue
        first[key] = at
        if vm is not None:
            vms.append((at, vm))
    return vms


def _no_migrate(checked: Checked[Any], at: At, purpose: Purpose) -> None:
    if "migrate" in checked.given and not purpose.migrate:
        at.child("migrate").report(
            "migrate settings belong to a migration manifest: one with a top-level migrate section, run by "
            "adeflow migrate",
            key=True,
        )


def _vm(at: At, defaults: Settings, purpose: Purpose) -> ResolvedVm | None:
    raw = at.raw
    if isinstance(raw, str):
        try:
            ref: VmRef | None = values.parse_vm_id(raw)
        except ValueError as exc:
            at.report(str(exc))
            ref = None
        settings = resolve(defaults, at, purpose)
        return None if ref is None or settings is None else ResolvedVm(ref, settings, at.line())
    checked = check(
        VmEntry,
        at,
        expected="expected a VM resource id or a mapping with id or subscription, resource_group, name; "
        f"got {values.kind_of(raw)}",
    )
    if checked is None:
        return None
    _no_migrate(checked, at, purpose)
    model, given = checked.model, checked.given
    triple = [k for k in _TRIPLE if k in given]
    ref = None
    if "id" in given and triple:
        at.report(f"give either id or subscription, resource_group, name; not both ({', '.join(['id', *triple])})")
    elif "id" in given:
        ref = model.id
    elif len(triple) < 3:
        missing = ", ".join(k for k in _TRIPLE if k not in given)
        at.report(f"missing {missing}: name a VM by id or by subscription, resource_group and name")
    elif model.subscription and model.resource_group and model.name:
        ref = VmRef(model.subscription, model.resource_group, model.name)
    settings = resolve({**defaults, **read_settings(checked, at, 2, purpose)}, at, purpose)
    return None if ref is None or settings is None else ResolvedVm(ref, settings, at.line())


def _quiet_ref(raw: Any) -> VmRef | None:
    """The VM an invalid entry names, if it can be told without reporting again (for duplicate detection)."""
    try:
        if isinstance(raw, str):
            return values.parse_vm_id(raw)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            return values.parse_vm_id(raw["id"])
    except ValueError:
        return None
    if isinstance(raw, dict) and all(isinstance(raw.get(k), str) for k in _TRIPLE):
        return VmRef(*(raw[k] for k in _TRIPLE))
    return None


# ---------------------------------------------------------------------------------------------------- selectors


def _tag_value(value: object) -> object:
    if value == "" or isinstance(value, dict | list) or value is None:
        raise ValueError(f"expected a tag value; got {'an empty string' if value == '' else values.kind_of(value)}")
    return value


def _tags(tags: dict[str, object] | None) -> dict[str, object] | None:
    if tags is None:
        return None
    if not tags:
        raise ValueError("expected a mapping of tag names to values, e.g. {env: prod}; got an empty mapping")
    seen: set[str] = set()
    for name in tags:
        if not name:
            raise ValueError("expected a tag name; got an empty string")
        if name.lower() in seen:
            raise ValueError(f"duplicate tag name {name!r} (tag names are case-insensitive)")
        seen.add(name.lower())
    return tags


def _query(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        got = "an empty string" if isinstance(value, str) else values.kind_of(value)
        raise ValueError(f"expected an Azure Resource Graph query; got {got}")
    return value.strip()


class SelectorFields(Strict):
    subscription: SubscriptionId | None = None
    resource_group: ResourceGroup | None = None
    tags: Annotated[
        dict[str, Annotated[object, PlainValidator(_tag_value)]] | None,
        What("a mapping of tag names to values, e.g. {env: prod}"),
        AfterValidator(_tags),
    ] = None
    resource_graph: Annotated[str, PlainValidator(_query)] | None = None
    subscriptions: Annotated[list[SubscriptionId] | None, What("subscription ids")] = None


class SelectorEntry(MigrateKey, SettingsFields, SelectorFields):
    """VMs found at run time, with the settings they get."""


def read_selectors(entries: list[At], defaults: Settings, purpose: Purpose = ROLLOUT) -> list[Selector]:
    return [selector for _, selector in read_selector_entries(entries, defaults, purpose)]


def read_selector_entries(
    entries: list[At], defaults: Settings, purpose: Purpose = ROLLOUT
) -> list[tuple[At, Selector]]:
    return [(at, selector) for at in entries if (selector := _selector(at, defaults, purpose)) is not None]


def _selector(at: At, defaults: Settings, purpose: Purpose) -> Selector | None:
    checked = check(SelectorEntry, at)
    if checked is None:
        return None
    _no_migrate(checked, at, purpose)
    model, given = checked.model, checked.given
    settings = resolve({**defaults, **read_settings(checked, at, 2, purpose)}, at, purpose)
    by_graph = "resource_graph" in given
    if by_graph and any(k in given for k in ("subscription", "resource_group", "tags")):
        at.report("give either resource_graph (+ subscriptions) or subscription (+ resource_group, tags); not both")
        return None
    if not by_graph and "subscription" not in given:
        at.report(
            "missing subscription: a selector needs subscription (+ resource_group, tags) "
            "or resource_graph (+ subscriptions)"
        )
        return None
    if by_graph:
        ok = checked.ok("resource_graph") and "subscriptions" not in checked.invalid
        if "subscriptions" not in given:
            at.child("subscriptions").report("missing: list the subscriptions the query may search", at=at)
            ok = False
        elif not model.subscriptions and "subscriptions" not in checked.invalid:
            at.child("subscriptions").report("list at least one subscription")
            ok = False
        if not ok or settings is None or model.resource_graph is None:
            return None
        return Selector(
            settings, at.line(), resource_graph=model.resource_graph, subscriptions=tuple(model.subscriptions or ())
        )
    ok = not checked.invalid & {"subscription", "resource_group", "tags"}
    if "subscriptions" in given:
        at.child("subscriptions").report("only with resource_graph; a tag selector names one subscription", key=True)
        ok = False
    if not ok or settings is None or model.subscription is None:
        return None
    tags = {name: at.doc.texts.get((*at.loc, "tags", name), str(value)) for name, value in (model.tags or {}).items()}
    return Selector(
        settings, at.line(), subscription_id=model.subscription, resource_group=model.resource_group or "", tags=tags
    )
