"""Settings from the environment (``ADEFLOW_*``), shared by the worker, the CLI and the demo.

Which Azure adeflow talks to is configuration only: the same activities reach Azure Resource Manager with
``DefaultAzureCredential``, or the ARM simulator with a static token, a custom endpoint and its CA file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

SEARCH_ATTRIBUTES = {
    "AdeRolloutId": "Keyword",
    "AdeSubscription": "Keyword",
    "AdeResourceGroup": "Keyword",
    "AdeVmName": "Keyword",
    "AdePhase": "Keyword",
    "AdeOutcome": "Keyword",
    "AdeVolumeType": "Keyword",
}
"""Custom search attributes adeflow's workflows set; a namespace must have them registered first."""


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "adeflow"


@dataclass(frozen=True)
class AzureSettings:
    arm_endpoint: str = "https://management.azure.com"
    ca_file: str = ""
    """PEM bundle to trust for ARM (the simulator's CA); empty means the system trust store."""
    static_token: str = ""
    """A fixed bearer token instead of DefaultAzureCredential (the simulator accepts any token)."""
    lro_poll_seconds: float = 30.0
    """Poll interval of Azure long-running operations when ARM sends no Retry-After."""
    # --- ARM request budget (activities/arm_budget.py, DESIGN §5 invariant 8) --------------------------------
    # ARM allows per subscription reads 250 (refill 25/s), writes and deletes 200 (refill 10/s) and, per VM,
    # 12 "Update VM" calls (refill 4/min) (arm-reference §e). The worker waits for its own, smaller, buckets
    # instead of bouncing off ARM's; the headroom is left to the portal, pipelines and other tools.
    # A refill of 0 means unlimited.
    arm_reads_per_s: float = 20.0
    """Subscription read (GET) tokens refilled per second (ARM: 25)."""
    arm_reads_capacity: float = 200.0
    """Subscription read burst (ARM: 250)."""
    arm_writes_per_s: float = 8.0
    """Subscription write (PUT/PATCH/POST) tokens refilled per second (ARM: 10)."""
    arm_writes_capacity: float = 150.0
    """Subscription write burst (ARM: 200)."""
    arm_deletes_per_s: float = 8.0
    """Subscription delete tokens refilled per second (ARM: 10)."""
    arm_deletes_capacity: float = 150.0
    """Subscription delete burst (ARM: 200)."""
    arm_vm_updates_per_min: float = 4.0
    """Per-VM Compute "Update VM" (extension PUT/DELETE, restart) tokens refilled per minute, as documented."""
    arm_vm_updates_capacity: float = 12.0
    """Per-VM Compute "Update VM" burst, as documented."""
    arm_budget_share: float = 1.0
    """Fraction of the subscription budgets this worker may use: 1/N when N workers share the subscriptions."""
    # --- end ARM request budget -------------------------------------------------------------------------------


def _arm_budget_value(source: Mapping[str, str], name: str) -> float:
    """ARM budget field ``name`` from ``ADEFLOW_<NAME>``: a finite number >= 0 (the share in (0, 1]).

    A bad value stops the worker at start instead of letting it run unthrottled mid-rollout.
    """
    env = f"ADEFLOW_{name.upper()}"
    default: float = getattr(AzureSettings, name)
    raw = source.get(env)
    try:
        value = default if raw is None or raw.strip() == "" else float(raw)
    except ValueError:
        raise ValueError(f"{env}={raw!r} is not a number") from None
    if name == "arm_budget_share" and not 0 < value <= 1:
        raise ValueError(f"{env}={value} must be in (0, 1]")
    if not 0 <= value < float("inf"):
        raise ValueError(f"{env}={value} must be a finite number >= 0")
    return value


@dataclass(frozen=True)
class Settings:
    temporal: TemporalSettings = TemporalSettings()
    azure: AzureSettings = AzureSettings()

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        temporal = TemporalSettings(
            address=source.get("ADEFLOW_TEMPORAL_ADDRESS", TemporalSettings.address),
            namespace=source.get("ADEFLOW_TEMPORAL_NAMESPACE", TemporalSettings.namespace),
            task_queue=source.get("ADEFLOW_TASK_QUEUE", TemporalSettings.task_queue),
        )
        ca_file = source.get("ADEFLOW_ARM_CA_FILE", "")
        if ca_file and not Path(ca_file).is_file():
            raise ValueError(f"ADEFLOW_ARM_CA_FILE={ca_file} does not exist")
        azure = AzureSettings(
            arm_endpoint=source.get("ADEFLOW_ARM_ENDPOINT", AzureSettings.arm_endpoint).rstrip("/"),
            ca_file=ca_file,
            static_token=source.get("ADEFLOW_ARM_STATIC_TOKEN", ""),
            lro_poll_seconds=float(source.get("ADEFLOW_LRO_POLL_SECONDS", AzureSettings.lro_poll_seconds)),
            # ARM request budget: ADEFLOW_<FIELD NAME>, e.g. ADEFLOW_ARM_READS_PER_S.
            arm_reads_per_s=_arm_budget_value(source, "arm_reads_per_s"),
            arm_reads_capacity=_arm_budget_value(source, "arm_reads_capacity"),
            arm_writes_per_s=_arm_budget_value(source, "arm_writes_per_s"),
            arm_writes_capacity=_arm_budget_value(source, "arm_writes_capacity"),
            arm_deletes_per_s=_arm_budget_value(source, "arm_deletes_per_s"),
            arm_deletes_capacity=_arm_budget_value(source, "arm_deletes_capacity"),
            arm_vm_updates_per_min=_arm_budget_value(source, "arm_vm_updates_per_min"),
            arm_vm_updates_capacity=_arm_budget_value(source, "arm_vm_updates_capacity"),
            arm_budget_share=_arm_budget_value(source, "arm_budget_share"),
        )
        return Settings(temporal=temporal, azure=azure)

    def with_simulator(self, base_url: str, ca_file: Path) -> Settings:
        """Point the Azure side at an ARM simulator (demo, rehearsal)."""
        azure = replace(
            self.azure,
            arm_endpoint=base_url,
            ca_file=str(ca_file),
            static_token="sim-token",
            lro_poll_seconds=1,
        )
        return replace(self, azure=azure)
