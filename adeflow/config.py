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
