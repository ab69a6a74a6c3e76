"""The tree every simulated resource hangs in: subscriptions → resource groups → resources (keys lower-cased)."""

from __future__ import annotations

from dataclasses import dataclass, field

from azuresim.state.backup import RecoveryVault
from azuresim.state.compute import ManagedDisk, Snapshot, VirtualMachine
from azuresim.state.features import Registrations
from azuresim.state.keyvault import KeyVault
from azuresim.state.network import NetworkInterface, VirtualNetwork
from azuresim.state.policy import PolicyAssignment
from azuresim.state.scalesets import ScaleSet


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


@dataclass
class ResourceGroup:
    name: str
    location: str
    vms: dict[str, VirtualMachine] = field(default_factory=dict)
    disks: dict[str, ManagedDisk] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    vaults: dict[str, KeyVault] = field(default_factory=dict)
    recovery_vaults: dict[str, RecoveryVault] = field(default_factory=dict)
    vnets: dict[str, VirtualNetwork] = field(default_factory=dict)
    nics: dict[str, NetworkInterface] = field(default_factory=dict)
    scale_sets: dict[str, ScaleSet] = field(default_factory=dict)


@dataclass
class Subscription:
    id: str
    tenant_id: str
    resource_groups: dict[str, ResourceGroup] = field(default_factory=dict)
    policy_assignments: list[PolicyAssignment] = field(default_factory=list)
    registrations: Registrations = field(default_factory=Registrations)
    """Feature and resource-provider registrations (M-5)."""
