"""Subscription feature and resource-provider registrations (Microsoft.Features, Microsoft.Resources): M-5.

Encryption at host needs the subscription feature ``Microsoft.Compute/EncryptionAtHost``. Registering it takes
minutes (``NotRegistered`` → ``Registering`` → ``Registered``, ``sim.feature_registration_seconds``), and Azure's
instructions then say to re-register the ``Microsoft.Compute`` provider "to get the change propagated" (Azure CLI's
own hint after ``az feature register``): here the feature takes effect for VM writes once a provider registration
has completed at or after the feature's. A fleet that starts with the feature registered starts propagated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

COMPUTE = "Microsoft.Compute"
EAH_FEATURE = "EncryptionAtHost"
FEATURES: dict[str, tuple[str, ...]] = {COMPUTE.lower(): (EAH_FEATURE,)}
"""The features the simulator knows, per provider namespace (lower-cased)."""
PROVIDERS = ("Microsoft.Compute", "Microsoft.Network", "Microsoft.KeyVault", "Microsoft.RecoveryServices")
"""The resource providers it serves, all registered in every subscription."""


@dataclass
class Registration:
    """One registration: none yet (``done_at`` None), in progress until ``done_at``, or done since then."""

    done_at: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.done_at is None:
            return "NotRegistered"
        return "Registered" if now >= self.done_at else "Registering"


@dataclass
class Registrations:
    """A subscription's feature and provider registrations, keyed by lower-cased names."""

    features: dict[str, Registration] = field(default_factory=dict)
    providers: dict[str, Registration] = field(default_factory=dict)

    @classmethod
    def at_start(cls, eah_registered: bool, created: datetime) -> Registrations:
        features = {_key(COMPUTE, EAH_FEATURE): Registration(created if eah_registered else None)}
        return cls(features, {ns.lower(): Registration(created) for ns in PROVIDERS})

    def feature(self, namespace: str, name: str) -> Registration | None:
        """The registration of a known feature (None: the feature does not exist)."""
        if name.lower() not in {f.lower() for f in FEATURES.get(namespace.lower(), ())}:
            return None
        return self.features.setdefault(_key(namespace, name), Registration())

    def register_feature(self, namespace: str, name: str, now: datetime, seconds: float) -> Registration | None:
        """Features_Register: starts a registration unless one is done or under way (idempotent)."""
        reg = self.feature(namespace, name)
        if reg is not None and reg.done_at is None:
            reg.done_at = now + timedelta(seconds=seconds)
        return reg

    def register_provider(self, namespace: str, now: datetime, seconds: float) -> Registration | None:
        """Providers_Register: a new registration unless one is under way; None for an unknown namespace."""
        reg = self.providers.get(namespace.lower())
        if reg is None:
            return None
        if reg.done_at is None or now >= reg.done_at:
            reg.done_at = now + timedelta(seconds=seconds)
        return reg

    def encryption_at_host_enabled(self, now: datetime) -> bool:
        """M-5: the feature is registered and a Microsoft.Compute registration completed after it (propagated)."""
        feature = self.features.get(_key(COMPUTE, EAH_FEATURE))
        provider = self.providers.get(COMPUTE.lower())
        if feature is None or feature.done_at is None or provider is None or provider.done_at is None:
            return False
        return now >= feature.done_at and now >= provider.done_at >= feature.done_at


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}".lower()
