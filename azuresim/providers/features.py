"""Subscription features (Microsoft.Features) and resource-provider registration (Microsoft.Resources), M-5.

- ``GET  /subscriptions/{sub}/providers/Microsoft.Features/providers/{ns}/features[/{name}]`` (Features_List, _Get)
- ``POST .../features/{name}/register`` (Features_Register): 200 with the state, ``Registering`` until
  ``sim.feature_registration_seconds`` have passed, then ``Registered``; registering again changes nothing.
- ``GET  /subscriptions/{sub}/providers/{ns}`` (Providers_Get) and ``POST .../{ns}/register`` (Providers_Register):
  a registration takes ``sim.provider_registration_seconds``; one completed after the feature's propagates it.

api-versions as the SDKs send them: ``azure-mgmt-resource-features`` 1.0 (FeatureClient) 2021-07-01,
``azure-mgmt-resource`` 26 (ResourceManagementClient.providers) 2025-04-01. The simulator knows one feature,
``Microsoft.Compute/EncryptionAtHost`` (others: 404 ``FeatureNotFound``), and the providers it serves (others: 404
``InvalidResourceNamespace``). Bodies are shaped like the official getFeature/registerFeature examples and the SDK
models ``FeatureResult`` and ``Provider``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from azuresim.errors import ArmError
from azuresim.http import SUB, Call, json_response, route
from azuresim.state.features import FEATURES, PROVIDERS, Registration
from azuresim.state.world import SimState

FEATURES_API = ("2021-07-01",)
RESOURCES_API = ("2025-04-01",)
_FEATURES = SUB + r"/providers/Microsoft\.Features/providers/(?P<ns>[^/]+)/features"
_FEATURE = _FEATURES + r"/(?P<name>[^/]+)"
_PROVIDER = SUB + r"/providers/(?P<ns>[^/]+)"
RESOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "microsoft.compute": ("virtualMachines", "virtualMachines/extensions", "disks", "snapshots", "skus", "locations"),
    "microsoft.network": ("virtualNetworks", "virtualNetworks/subnets", "networkInterfaces", "locations"),
    "microsoft.keyvault": ("vaults", "vaults/secrets", "vaults/keys"),
    "microsoft.recoveryservices": ("vaults",),
}


def _canonical_feature(namespace: str, name: str) -> tuple[str, str]:
    ns = next((p for p in PROVIDERS if p.lower() == namespace.lower()), namespace)
    feature = next((f for f in FEATURES.get(namespace.lower(), ()) if f.lower() == name.lower()), name)
    return ns, feature


def render_feature(sub: str, namespace: str, name: str, reg: Registration, now: datetime) -> dict[str, Any]:
    ns, feature = _canonical_feature(namespace, name)
    return {
        "id": f"/subscriptions/{sub}/providers/Microsoft.Features/providers/{ns}/features/{feature}",
        "name": f"{ns}/{feature}",
        "type": "Microsoft.Features/providers/features",
        "properties": {"state": reg.state(now)},
    }


def _not_found(name: str) -> ArmError:
    return ArmError(404, "FeatureNotFound", f"The feature '{name}' could not be found.")


def get_feature(state: SimState, call: Call) -> web.Response:
    sub = state.subscription(call["sub"])
    reg = sub.registrations.feature(call["ns"], call["name"])
    if reg is None:
        raise _not_found(call["name"])
    return json_response(render_feature(sub.id, call["ns"], call["name"], reg, call.now))


def list_features(state: SimState, call: Call) -> web.Response:
    sub = state.subscription(call["sub"])
    value = []
    for name in FEATURES.get(call["ns"].lower(), ()):
        reg = sub.registrations.feature(call["ns"], name)
        if reg is not None:
            value.append(render_feature(sub.id, call["ns"], name, reg, call.now))
    return json_response({"value": value})


def register_feature(state: SimState, call: Call) -> web.Response:
    sub = state.subscription(call["sub"])
    seconds = state.fleet.sim.feature_registration_seconds
    reg = sub.registrations.register_feature(call["ns"], call["name"], call.now, seconds)
    if reg is None:
        raise _not_found(call["name"])
    return json_response(render_feature(sub.id, call["ns"], call["name"], reg, call.now))


def render_provider(sub: str, namespace: str, reg: Registration, now: datetime) -> dict[str, Any]:
    ns = next(p for p in PROVIDERS if p.lower() == namespace.lower())
    return {
        "id": f"/subscriptions/{sub}/providers/{ns}",
        "namespace": ns,
        "registrationState": reg.state(now),
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [{"resourceType": t} for t in RESOURCE_TYPES.get(ns.lower(), ())],
    }


def _provider(state: SimState, call: Call, *, register: bool) -> web.Response:
    sub = state.subscription(call["sub"])
    if register:
        reg = sub.registrations.register_provider(call["ns"], call.now, state.fleet.sim.provider_registration_seconds)
    else:
        reg = sub.registrations.providers.get(call["ns"].lower())
    if reg is None:
        raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{call['ns']}' is invalid.")
    return json_response(render_provider(sub.id, call["ns"], reg, call.now))


def get_provider(state: SimState, call: Call) -> web.Response:
    return _provider(state, call, register=False)


def register_provider(state: SimState, call: Call) -> web.Response:
    return _provider(state, call, register=True)


ROUTES = (
    route("GET", _FEATURES, "Features_List", FEATURES_API, list_features),
    route("GET", _FEATURE, "Features_Get", FEATURES_API, get_feature),
    route("POST", _FEATURE + "/register", "Features_Register", FEATURES_API, register_feature),
    route("GET", _PROVIDER, "Providers_Get", RESOURCES_API, get_provider),
    route("POST", _PROVIDER + "/register", "Providers_Register", RESOURCES_API, register_provider),
)
