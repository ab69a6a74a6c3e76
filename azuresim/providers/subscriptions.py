"""Microsoft.Resources subscriptions list: the one read ``adeflow worker --check`` makes to prove its identity.

ARM lists the subscriptions the caller holds any role in; the simulator accepts any token, so it lists them all.
"""

from __future__ import annotations

from aiohttp import web

from azuresim.http import Call, json_response, route
from azuresim.state.world import SimState

SUBSCRIPTIONS_API = ("2022-12-01",)


def list_subscriptions(state: SimState, call: Call) -> web.Response:
    value = [
        {
            "id": f"/subscriptions/{sub.id}",
            "authorizationSource": "RoleBased",
            "subscriptionId": sub.id,
            "tenantId": sub.tenant_id,
            "displayName": f"azuresim {sub.id[:8]}",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }
        for sub in state.subscriptions.values()
    ]
    return json_response({"value": value, "count": {"type": "Total", "value": len(value)}})


ROUTES = (route("GET", r"^/subscriptions", "Subscriptions_List", SUBSCRIPTIONS_API, list_subscriptions),)
