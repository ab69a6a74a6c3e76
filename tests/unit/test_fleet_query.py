"""Selector matching and merging: what a tag or query selector adds to a rollout, and what it does not."""

from __future__ import annotations

from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.fleet_query import VmQuery, VmQueryResult, merge_selected, tags_match
from adeflow.domain.model import RestartPolicy, VmRef
from adeflow.domain.rollout import build_rollout_input, explicit_vms, with_selected

SUB = "6f1c3a52-8d11-4c4e-9a7e-000000000001"
KV = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"


def ref(name: str, rg: str = "rg-web") -> VmRef:
    return VmRef(SUB, rg, name)


def test_tag_names_are_case_insensitive_and_values_exact() -> None:
    assert tags_match({"Env": "prod", "ade": "yes"}, {"env": "prod"})
    assert not tags_match({"env": "Prod"}, {"env": "prod"})
    assert not tags_match({"env": "prod"}, {"env": "prod", "ade": "yes"})
    assert not tags_match(None, {"env": "prod"})
    assert tags_match(None, {})


def test_a_vm_found_twice_runs_once_with_the_most_specific_settings() -> None:
    listed = [ref("web-01")]
    found = [[ref("WEB-01"), ref("web-02")], [ref("web-02"), ref("web-03")]]
    assert merge_selected(listed, found) == [[ref("web-02")], [ref("web-03")]]


def test_rollout_input_keeps_selectors_until_resolved_then_appends_their_vms() -> None:
    listed, by_tags, by_graph = (VmSettings(key_vault_id=KV, restart=p) for p in RestartPolicy)
    tag_query = VmQuery(subscription_id=SUB, tags={"env": "prod"}, source="m.yaml:7")
    graph_query = VmQuery(resource_graph="Resources | where name startswith 'db'", source="m.yaml:9")
    request = build_rollout_input(
        "r1", RolloutPolicy(), [(ref("web-01"), listed)], [(tag_query, by_tags), (graph_query, by_graph)]
    )
    assert [s.query for s in request.selectors] == [tag_query, graph_query]

    resolved, lines = with_selected(
        request,
        [
            VmQueryResult(tag_query, [ref("web-01"), ref("web-02")]),
            VmQueryResult(graph_query, [ref("db-01", "rg-db")], ignored=[f"/subscriptions/{SUB}/x/disks/d"]),
        ],
    )
    assert resolved.selectors == []
    assert explicit_vms(resolved) == [ref("web-01"), ref("web-02"), ref("db-01", "rg-db")]
    settings_of = {name: resolved.settings[t.settings_index] for t in resolved.targets for name in t.names}
    assert settings_of == {"web-01": listed, "web-02": by_tags, "db-01": by_graph}
    assert lines == [
        f"m.yaml:7: VMs in subscription {SUB}, every resource group, tagged env=prod: 2 VMs found, "
        "1 of them listed already",
        "m.yaml:9: Resource Graph query over every subscription the identity can read: 1 VMs found; "
        "1 rows that are not VMs ignored",
    ]
