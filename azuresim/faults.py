"""Faults on demand, deterministic under a seed.

A :class:`FaultPlan` holds the active faults. Request-level kinds (``throttle``, ``server_error``,
``drop_connection``, ``keyvault_denied``) replace the answer to matching requests; the other kinds change
the simulated world (:meth:`azuresim.state.world.SimState.inject`) or are consumed by the operation they
break (``extension_failure``, ``snapshot_failure``, ``backup_job_failure``). ``probability`` draws come
from one ``random.Random(seed)`` in request order, so a run with the same requests fails the same way.

Two kinds act on the disks' page-blob data plane (:mod:`azuresim.state.pageblob`), aimed at a ``disk`` by name,
at the disks of a ``vm``, or at every disk:

- ``server_busy``: matching blob requests (``operation``: ``PutPageFromURL``, ``PutPage``, ``GetPageRanges``,
  ``GetBlobProperties``; default all) answer 503 ``ServerBusy`` with ``Retry-After`` (a storm: ``probability``,
  ``count``, ``duration_s``).
- ``sas_expiry``: the disks' SAS URLs expire ``after_s`` simulated seconds after the injection, and each grant
  while the fault lasts (``count`` grants, or ``duration_s``) lives at most ``after_s`` simulated seconds.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FaultKind = Literal[
    "throttle",
    "server_error",
    "drop_connection",
    "extension_failure",
    "encryption_stuck",
    "restart_pending",
    "vm_deallocated",
    "vm_deleted",
    "keyvault_denied",
    "snapshot_failure",
    "backup_job_failure",
    "server_busy",
    "sas_expiry",
]
REQUEST_KINDS = frozenset({"throttle", "server_error", "drop_connection", "keyvault_denied"})
CONSUMED_KINDS = frozenset({"extension_failure", "snapshot_failure", "backup_job_failure"})
WORLD_KINDS = frozenset({"encryption_stuck", "restart_pending", "vm_deallocated", "vm_deleted"})
DISK_KINDS = frozenset({"server_busy", "sas_expiry"})
BLOB_OPERATIONS = frozenset({"PutPageFromURL", "PutPage", "ClearPage", "GetPageRanges", "GetBlobProperties"})
NEEDS_VM = CONSUMED_KINDS | WORLD_KINDS
DEFAULT_EXTENSION_ERROR = "Failed to encrypt data volumes with error: device mapper creation failed (dm-crypt)"


class Fault(BaseModel):
    """One fault; see the module docstring and the simulator brief for the meaning of each parameter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    vm: str | None = None
    disk: str | None = None
    """A managed disk by name, for the data-plane kinds (``server_busy``, ``sas_expiry``)."""
    resource_group: str | None = None
    vault: str | None = None
    operation: str | None = None
    count: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, ge=0, le=1)
    duration_s: float | None = Field(default=None, gt=0)
    retry_after: int = Field(default=1, ge=0)
    status: Literal[500, 502, 503] = 503
    code: str | None = None
    message: str | None = None
    percent: int = Field(default=37, ge=0, le=99)
    after_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _required(self) -> Fault:
        if self.kind in NEEDS_VM and not self.vm:
            raise ValueError(f"fault kind {self.kind!r} needs 'vm'")
        if self.kind == "keyvault_denied" and not self.vault:
            raise ValueError("fault kind 'keyvault_denied' needs 'vault'")
        if self.disk and self.kind not in DISK_KINDS:
            raise ValueError(f"'disk' is for the fault kinds {sorted(DISK_KINDS)}")
        if self.kind == "server_busy" and self.operation and self.operation not in BLOB_OPERATIONS:
            raise ValueError(f"server_busy: 'operation' is one of {sorted(BLOB_OPERATIONS)}")
        return self

    @property
    def initial_count(self) -> int | None:
        """How many times it fires; ``extension_failure`` defaults to once ("the next enable")."""
        if self.count is None and self.kind == "extension_failure" and self.duration_s is None:
            return 1
        return self.count


class FaultsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    faults: list[Fault] = Field(default_factory=list)


class FaultError(ValueError):
    """The faults file is missing, not YAML, or does not match the schema."""


@dataclass
class ActiveFault:
    id: str
    fault: Fault
    remaining: int | None
    injected_real: float
    injected_sim: datetime
    names: frozenset[str]
    fired: int = 0

    @property
    def kind(self) -> str:
        return self.fault.kind

    def expired(self, real_now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return True
        duration = self.fault.duration_s
        return duration is not None and real_now - self.injected_real >= duration

    def matches_path(self, path: str) -> bool:
        """A path matches when a segment is the VM's (or one of its disks') name, or ends with ``;<vm>``."""
        if self.fault.vm is None:
            return True
        for segment in path.lower().split("/"):
            if segment in self.names or segment.rsplit(";", 1)[-1] == self.fault.vm.lower():
                return True
        return False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "fault": self.fault.model_dump(exclude_none=True),
            "remaining": self.remaining,
            "fired": self.fired,
        }


class FaultPlan:
    """Thread-safe list of active faults plus the seeded RNG."""

    def __init__(self, seed: int = 0, faults: Iterable[Fault] = ()) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.initial = list(faults)
        self.active: list[ActiveFault] = []
        self._lock = threading.RLock()
        self._next = 1

    @classmethod
    def from_file(cls, path: str | Path) -> FaultPlan:
        p = Path(path)
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            spec = FaultsFile.model_validate(raw)
        except OSError as exc:
            raise FaultError(f"cannot read faults file {p}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise FaultError(f"faults file {p} is not valid YAML: {exc}") from exc
        except ValidationError as exc:
            raise FaultError(f"invalid faults file {p}: {exc}") from exc
        return cls(spec.seed, spec.faults)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self.rng = random.Random(seed)

    def add(self, fault: Fault, names: Iterable[str], sim_now: datetime) -> ActiveFault:
        with self._lock:
            active = ActiveFault(
                id=f"fault-{self._next}",
                fault=fault,
                remaining=fault.initial_count,
                injected_real=time.monotonic(),
                injected_sim=sim_now,
                names=frozenset(n.lower() for n in names),
            )
            self._next += 1
            self.active.append(active)
            return active

    def clear(self) -> list[ActiveFault]:
        with self._lock:
            gone, self.active = self.active, []
            return gone

    def list(self) -> list[ActiveFault]:
        with self._lock:
            self._prune()
            return list(self.active)

    def _prune(self) -> None:
        now = time.monotonic()
        self.active = [a for a in self.active if not a.expired(now)]

    def _fire(self, active: ActiveFault) -> bool:
        """The probability draw, then spend one use."""
        probability = active.fault.probability
        if probability is not None and self.rng.random() >= probability:
            return False
        active.fired += 1
        if active.remaining is not None:
            active.remaining -= 1
        return True

    def match_request(self, operation: str, path: str, vault: str | None) -> ActiveFault | None:
        """The first request-level fault that fires for this request."""
        with self._lock:
            self._prune()
            for active in self.active:
                fault = active.fault
                if fault.kind not in REQUEST_KINDS:
                    continue
                if fault.kind == "keyvault_denied":
                    if operation != "Vaults_Get" or vault is None or vault.lower() != str(fault.vault).lower():
                        continue
                elif fault.operation is not None and fault.operation.lower() != operation.lower():
                    continue
                if not active.matches_path(path):
                    continue
                if self._fire(active):
                    return active
            return None

    def take_disk(self, kind: str, disk: str, operation: str | None = None) -> ActiveFault | None:
        """Consume one use of a ``DISK_KINDS`` fault aimed at this disk (by name, its VM, or every disk)."""
        with self._lock:
            self._prune()
            for active in self.active:
                fault = active.fault
                if active.kind != kind or (active.names and disk.lower() not in active.names):
                    continue
                if operation is not None and fault.operation is not None and fault.operation != operation:
                    continue
                if self._fire(active):
                    return active
            return None

    def take(self, kind: str, vm: str) -> ActiveFault | None:
        """Consume one use of a ``CONSUMED_KINDS`` fault aimed at ``vm``."""
        with self._lock:
            self._prune()
            for active in self.active:
                if active.kind == kind and str(active.fault.vm).lower() == vm.lower() and self._fire(active):
                    return active
            return None
