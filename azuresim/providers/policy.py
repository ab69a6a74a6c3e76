"""Microsoft.Authorization policy assignments (list and get at any scope) and built-in definitions over HTTP."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.http import RG, SUB, Call, json_response, parse_filter, route
from azuresim.state.policy import BUILT_INS, DEFINITIONS_PREFIX, PolicyAssignment, definition_id
from azuresim.state.world import SimState

POLICY_API = ("2026-06-01",)
_AUTHZ = r"/providers/Microsoft\.Authorization"
_SCOPE = r"^/(?P<scope>subscriptions/(?P<sub>[^/]+)(?:/[^/]+/[^/]+)*?)"


def list_policy(state: SimState, call: Call) -> web.Response:
    sub = state.subscription(call["sub"])
    scope = f"/subscriptions/{sub.id}"
    if "rg" in call.match.re.groupindex:
        scope += f"/resourceGroups/{state.resource_group(call['sub'], call['rg']).name}"
    text = call.request.query.get("$filter", "").strip()
    where = parse_filter(text)
    found = []
    for a in sub.policy_assignments:
        if text.lower() == "atscope()":
            if not a.at_or_above(scope):
                continue
        elif not (a.at_or_above(scope) or a.within(scope)):
            continue
        wanted = where.get("policydefinitionid")
        if wanted and wanted.lower() != definition_id(a.spec.policy_definition_id).lower():
            continue
        found.append(render_assignment(a))
    top = call.request.query.get("$top")
    if top and top.isdigit():
        found = found[: int(top)]
    return json_response({"value": found})


def get_policy(state: SimState, call: Call) -> web.Response:
    sub = state.subscription(call["sub"])
    scope = "/" + call["scope"]
    for a in sub.policy_assignments:
        if a.scope.lower() == scope.rstrip("/").lower() and a.spec.name.lower() == call["name"].lower():
            return json_response(render_assignment(a))
    raise ArmError(404, "PolicyAssignmentNotFound", f"The policy assignment '{call['name']}' is not found.")


def get_builtin_definition(state: SimState, call: Call) -> web.Response:
    body = render_definition(call["defn"])
    if body is None:
        raise ArmError(404, "PolicyDefinitionNotFound", f"The policy definition '{call['defn']}' could not be found.")
    return json_response(body)


def render_assignment(a: PolicyAssignment) -> dict[str, Any]:
    spec = a.spec
    definition = definition_id(spec.policy_definition_id)
    builtin = BUILT_INS.get(definition.rsplit("/", 1)[-1].lower())
    parameters: dict[str, Any] = {"effect": {"value": spec.effect}}
    for key, value in spec.parameters.items():
        parameters[key] = {"value": value}
    if builtin and "maximumValidityInDays" in builtin["parameters"]:
        parameters.setdefault("maximumValidityInDays", {"value": 90})
    return {
        "id": a.id,
        "name": spec.name,
        "type": "Microsoft.Authorization/policyAssignments",
        "properties": {
            "displayName": spec.display_name or (builtin["displayName"] if builtin else spec.name),
            "policyDefinitionId": definition,
            "definitionVersion": "1.*.*",
            "scope": a.scope,
            "notScopes": [],
            "parameters": parameters,
            "enforcementMode": "Default",
            "assignmentType": "Custom",
            "metadata": {"assignedBy": "azuresim"},
        },
    }


def render_definition(name: str) -> dict[str, Any] | None:
    builtin = BUILT_INS.get(name.lower())
    if builtin is None:
        return None
    return {
        "id": DEFINITIONS_PREFIX + name.lower(),
        "name": name.lower(),
        "type": "Microsoft.Authorization/policyDefinitions",
        "properties": {
            "displayName": builtin["displayName"],
            "policyType": "BuiltIn",
            "mode": builtin["mode"],
            "description": builtin["description"],
            "metadata": {"version": builtin["version"], "category": "Key Vault"},
            "version": builtin["version"],
            "parameters": builtin["parameters"],
            "policyRule": builtin["policyRule"],
        },
    }


ROUTES = (
    route("GET", SUB + _AUTHZ + "/policyAssignments", "PolicyAssignments_List", POLICY_API, list_policy),
    route("GET", RG + _AUTHZ + "/policyAssignments", "PolicyAssignments_ListForResourceGroup", POLICY_API, list_policy),
    route(
        "GET", _SCOPE + _AUTHZ + "/policyAssignments/(?P<name>[^/]+)", "PolicyAssignments_Get", POLICY_API, get_policy
    ),
    route(
        "GET",
        "^" + _AUTHZ + "/policyDefinitions/(?P<defn>[^/]+)",
        "PolicyDefinitions_GetBuiltIn",
        POLICY_API,
        get_builtin_definition,
    ),
)
