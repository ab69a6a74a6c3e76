"""What a rollout will do to a fleet: its policy, each VM's settings, and the selectors resolved at run time.

Plain data produced by the manifest and campaign-file readers (``adeflow.inputs``) and carried through
workflows; no parsing here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from adeflow.domain.fleet_query import VmQuery
from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    EncryptVmInput,
    KeyEncryptionKey,
    RestartPolicy,
    VmRef,
    VolumeType,
)


@dataclass(frozen=True)
class FailureBudget:
    """How many failed VMs halt the rollout: a fixed count, or a fraction of the VMs in it."""

    count: int | None = None
    fraction: float | None = None

    def limit(self, total: int) -> int:
        """Failures tolerated among ``total`` VMs; one more halts the rollout."""
        if self.count is not None:
            return self.count
        return math.floor((self.fraction or 0.0) * total + 1e-9)

    def exceeded(self, failed: int, total: int) -> bool:
        return failed > self.limit(total)

    def __str__(self) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{(self.fraction or 0.0) * 100:g}%"


@dataclass(frozen=True)
class RolloutPolicy:
    name: str = ""
    concurrency: int = 50
    per_subscription_concurrency: int = 20
    canary: int = 1
    waves: tuple[int, ...] = (5, 25, 100)
    failure_budget: FailureBudget = field(default_factory=lambda: FailureBudget(fraction=0.05))
    poll_interval_s: float = 300.0
    encryption_deadline_s: float = 72 * 3600.0
    encryption_gb_per_hour: float = 0.0
    """The fastest encryption rate expected (``EncryptVmInput.encryption_gb_per_hour``); 0: unknown."""
    adaptive_polling: bool = True
    """``EncryptVmInput.adaptive_polling``: poll by expectation (True) or every ``poll_interval_s``."""


@dataclass(frozen=True)
class VmSettings:
    """What to do to one VM: fleet defaults merged with its overrides. Plain data; crosses Temporal boundaries."""

    key_vault_id: str
    kek: KeyEncryptionKey | None = None
    key_encryption_algorithm: str = "RSA-OAEP"
    volume_type: VolumeType | None = None
    backup: BackupPolicy = BackupPolicy.AUTO
    backup_waiver: BackupWaiver | None = None
    """Set only when ``backup`` is ``waive`` (R-BAK-2)."""
    restart: RestartPolicy = RestartPolicy.ASK
    encrypt_format_all: bool = False
    acknowledge_data_loss: str = ""
    confirmations: tuple[str, ...] = ()

    def to_encrypt_input(self, vm: VmRef, rollout: RolloutPolicy, rollout_id: str = "") -> EncryptVmInput:
        return EncryptVmInput(
            vm=vm,
            key_vault_id=self.key_vault_id,
            volume_type=self.volume_type,
            kek=self.kek,
            key_encryption_algorithm=self.key_encryption_algorithm,
            backup_waiver=self.backup_waiver,
            poll_interval_s=rollout.poll_interval_s,
            encryption_deadline_s=rollout.encryption_deadline_s,
            encryption_gb_per_hour=rollout.encryption_gb_per_hour,
            adaptive_polling=rollout.adaptive_polling,
            rollout_id=rollout_id,
            backup_policy=self.backup,
            restart_policy=self.restart,
            encrypt_format_all=self.encrypt_format_all,
            acknowledge_data_loss=self.acknowledge_data_loss,
            confirmations=list(self.confirmations),
        )


@dataclass(frozen=True)
class ResolvedVm:
    ref: VmRef
    settings: VmSettings
    line: int


@dataclass(frozen=True)
class Selector:
    """VMs to find at run time: by subscription (+ resource group) and tags, or by a Resource Graph query."""

    settings: VmSettings
    line: int
    subscription_id: str = ""
    resource_group: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    resource_graph: str = ""
    subscriptions: tuple[str, ...] = ()

    @property
    def kind(self) -> Literal["tags", "resource_graph"]:
        return "resource_graph" if self.resource_graph else "tags"

    def query(self, source: str) -> VmQuery:
        """What the rollout asks Azure when it starts; ``source`` is the manifest's path, for reports."""
        return VmQuery(
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            tags=dict(self.tags),
            resource_graph=self.resource_graph,
            subscriptions=list(self.subscriptions),
            source=f"{source}:{self.line}",
        )


@dataclass(frozen=True)
class Manifest:
    source: str
    rollout: RolloutPolicy
    vms: list[ResolvedVm]
    selectors: list[Selector]
