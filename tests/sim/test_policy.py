"""Azure Policy assignments and the two Key Vault built-ins through the real PolicyClient."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.support.frozen_sim import SUB2, Sim

MAX_VALIDITY = "342e8053-e12e-4c44-be01-c3c2f318400f"
EXPIRY = "98728c90-32c7-4049-8429-847dc0f4fe37"


def test_list_assignments(sim: Sim) -> None:
    everything = {a.name: a.as_dict() for a in sim.policy2.policy_assignments.list()}
    assert set(everything) == {"deny-secret-validity", "audit-expiry-rg"}
    deny = everything["deny-secret-validity"]
    assert (
        deny["id"] == f"/subscriptions/{SUB2}/providers/Microsoft.Authorization/policyAssignments/deny-secret-validity"
    )
    props = deny["properties"]
    assert props["policyDefinitionId"] == f"/providers/Microsoft.Authorization/policyDefinitions/{MAX_VALIDITY}"
    assert props["parameters"]["effect"] == {"value": "Deny"}
    assert props["scope"] == f"/subscriptions/{SUB2}"
    at_scope = [a.name for a in sim.policy2.policy_assignments.list(filter="atScope()")]
    assert at_scope == ["deny-secret-validity"]
    assert [a.name for a in sim.policy.policy_assignments.list()] == []  # SUB1 has none


def test_get_assignment(sim: Sim) -> None:
    got = sim.policy2.policy_assignments.get(f"subscriptions/{SUB2}", "deny-secret-validity")
    assert got.properties.parameters["effect"].value == "Deny"
    rg = sim.policy2.policy_assignments.get(f"/subscriptions/{SUB2}/resourceGroups/rg-west", "audit-expiry-rg")
    assert rg.properties.parameters["effect"].value == "Audit"
    with pytest.raises(ResourceNotFoundError):
        sim.policy2.policy_assignments.get(f"/subscriptions/{SUB2}", "nope")


def test_builtin_definitions(sim: Sim) -> None:
    d = sim.policy2.policy_definitions.get_built_in(MAX_VALIDITY)
    assert d.properties.display_name == "Key Vault secrets should have the specified maximum validity period"
    assert d.properties.policy_type == "BuiltIn"
    params = d.properties.parameters
    assert params["effect"].default_value == "Audit" and "maximumValidityInDays" in params
    e = sim.policy2.policy_definitions.get_built_in(EXPIRY)
    assert e.properties.display_name == "Key Vault secrets should have an expiration date"
    with pytest.raises(ResourceNotFoundError):
        sim.policy2.policy_definitions.get_built_in("00000000-0000-0000-0000-000000000000")
