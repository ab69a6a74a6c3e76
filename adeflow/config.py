"""Settings from the environment (``ADEFLOW_*``), shared by the worker, the CLI and the demo.

Which Azure adeflow talks to is configuration only: the same activities reach Azure Resource Manager with
``DefaultAzureCredential``, or the ARM simulator with a static token, a custom endpoint and its CA file.
Which Temporal it talks to is configuration too: the embedded dev server, a self-hosted cluster (mTLS) or
Temporal Cloud (mTLS or API key).

``ADEFLOW_CONFIG_FILE`` may name a TOML or YAML file with the same settings: keys are the variable names
without ``ADEFLOW_``, lower case, and tables are joined with ``_`` (``[temporal] address`` is
``ADEFLOW_TEMPORAL_ADDRESS``). The environment wins over the file, so one file can serve many workers.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

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


ENV_PREFIX = "ADEFLOW_"
CONFIG_FILE_ENV = "ADEFLOW_CONFIG_FILE"


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "adeflow"
    tls: bool = False
    """TLS on the Temporal connection; implied by a client certificate, a server CA or an API key."""
    tls_cert_file: str = ""
    """Client certificate (PEM) for mTLS, e.g. a Temporal Cloud namespace certificate; needs ``tls_key_file``."""
    tls_key_file: str = ""
    tls_ca_file: str = ""
    """CA bundle (PEM) that signed the server's certificate; empty means the system trust store."""
    tls_server_name: str = ""
    """Server name to send (SNI) and verify, when it differs from the host in ``address``."""
    api_key: str = field(default="", repr=False)
    """Temporal Cloud API key (sent as a bearer token); kept out of reprs so it cannot reach a log line."""
    max_cached_workflows: int = 2000
    """Worker: workflow runs kept in memory. Keep it above the rollouts' concurrency: a smaller cache than the
    window replays evicted runs on every task (3x slower in ``../shared/reference/perf-baseline.md``)."""
    max_concurrent_activities: int = 100
    """Worker: activity slots (the SDK's default; measured against 200 and 400 in BENCHMARKS.md)."""
    max_concurrent_workflow_tasks: int = 100
    """Worker: workflow task slots (the SDK's default; measured in BENCHMARKS.md)."""


@dataclass(frozen=True)
class AzureCloud:
    """Endpoints of one Azure cloud: ARM, the token scope for ARM, and the Entra ID authority host."""

    arm_endpoint: str
    arm_scope: str
    authority: str


AZURE_CLOUDS = {
    "AzureCloud": AzureCloud(
        "https://management.azure.com", "https://management.azure.com/.default", "login.microsoftonline.com"
    ),
    "AzureUSGovernment": AzureCloud(
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/.default",
        "login.microsoftonline.us",
    ),
    "AzureChinaCloud": AzureCloud(
        "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default", "login.chinacloudapi.cn"
    ),
}
"""Clouds by the names ``az cloud list`` uses; any other cloud is reachable by setting all three endpoints."""


@dataclass(frozen=True)
class TelemetrySettings:
    metrics_address: str = ""
    """``host:port`` of the worker's Prometheus endpoint (``/metrics``); empty means no endpoint."""
    log_level: str = "INFO"
    log_format: str = "auto"
    """``json``, ``console``, or ``auto``: console on a terminal, JSON otherwise (containers, log shippers)."""


@dataclass(frozen=True)
class AzureSettings:
    cloud: str = "AzureCloud"
    """Which Azure cloud the worker's subscriptions live in (a worker serves one cloud; see README)."""
    arm_endpoint: str = "https://management.azure.com"
    ca_file: str = ""
    """PEM bundle to trust for ARM (the simulator's CA); empty means the system trust store."""
    static_token: str = field(default="", repr=False)
    """A fixed bearer token instead of DefaultAzureCredential (the simulator accepts any token); never in reprs."""
    arm_scope: str = "https://management.azure.com/.default"
    """Token scope for ARM in ``cloud``."""
    authority: str = "login.microsoftonline.com"
    """Entra ID authority host of ``cloud`` for DefaultAzureCredential."""
    lro_poll_seconds: float = 30.0
    """Poll interval of Azure long-running operations when ARM sends no Retry-After; the ADE extension's
    operation follows ARM's Retry-After but is never polled further apart than this (activities/arm_retry.py)."""
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


def _text(source: Mapping[str, str], name: str, default: str) -> str:
    """A setting where blank means unset, so compose files can pass ``${VAR:-}`` through."""
    value = source.get(name)
    return default if value is None or not value.strip() else value.strip()


def _flag(source: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(source, name, "")
    if not raw:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (true or false)")


def _existing_file(source: Mapping[str, str], name: str) -> str:
    path = _text(source, name, "")
    if path and not Path(path).is_file():
        raise ValueError(f"{name}={path} does not exist")
    return path


def _temporal_from(source: Mapping[str, str]) -> TemporalSettings:
    cert = _existing_file(source, "ADEFLOW_TEMPORAL_TLS_CERT")
    key = _existing_file(source, "ADEFLOW_TEMPORAL_TLS_KEY")
    ca = _existing_file(source, "ADEFLOW_TEMPORAL_TLS_CA")
    server_name = _text(source, "ADEFLOW_TEMPORAL_TLS_SERVER_NAME", "")
    api_key = _text(source, "ADEFLOW_TEMPORAL_API_KEY", "")
    api_key_file = _existing_file(source, "ADEFLOW_TEMPORAL_API_KEY_FILE")
    if bool(cert) != bool(key):
        raise ValueError("ADEFLOW_TEMPORAL_TLS_CERT and ADEFLOW_TEMPORAL_TLS_KEY go together (mTLS needs both)")
    if api_key and api_key_file:
        raise ValueError("set ADEFLOW_TEMPORAL_API_KEY or ADEFLOW_TEMPORAL_API_KEY_FILE, not both")
    if api_key_file:
        api_key = Path(api_key_file).read_text().strip()
    implied = bool(cert or ca or server_name or api_key)
    tls = _flag(source, "ADEFLOW_TEMPORAL_TLS", implied)
    if implied and not tls:
        raise ValueError("ADEFLOW_TEMPORAL_TLS=false contradicts the TLS files or API key that are set")
    return TemporalSettings(
        address=_text(source, "ADEFLOW_TEMPORAL_ADDRESS", TemporalSettings.address),
        namespace=_text(source, "ADEFLOW_TEMPORAL_NAMESPACE", TemporalSettings.namespace),
        task_queue=_text(source, "ADEFLOW_TASK_QUEUE", TemporalSettings.task_queue),
        tls=tls,
        tls_cert_file=cert,
        tls_key_file=key,
        tls_ca_file=ca,
        tls_server_name=server_name,
        api_key=api_key,
        max_cached_workflows=_count(
            source, "ADEFLOW_WORKER_MAX_CACHED_WORKFLOWS", TemporalSettings.max_cached_workflows
        ),
        max_concurrent_activities=_count(
            source, "ADEFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES", TemporalSettings.max_concurrent_activities
        ),
        max_concurrent_workflow_tasks=_count(
            source, "ADEFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", TemporalSettings.max_concurrent_workflow_tasks
        ),
    )


def _count(source: Mapping[str, str], name: str, default: int) -> int:
    """A whole number >= 1 (blank means the default)."""
    raw = _text(source, name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1")
    return value


def _azure_from(source: Mapping[str, str]) -> AzureSettings:
    cloud_name = _text(source, "ADEFLOW_AZURE_CLOUD", AzureSettings.cloud)
    known = {name.lower(): name for name in AZURE_CLOUDS}
    endpoint = _text(source, "ADEFLOW_ARM_ENDPOINT", "")
    scope = _text(source, "ADEFLOW_ARM_SCOPE", "")
    authority = _text(source, "ADEFLOW_AZURE_AUTHORITY", "")
    if cloud_name.lower() in known:
        cloud_name = known[cloud_name.lower()]
        cloud = AZURE_CLOUDS[cloud_name]
    elif endpoint and scope and authority:
        cloud = AzureCloud(endpoint, scope, authority)
    else:
        raise ValueError(
            f"ADEFLOW_AZURE_CLOUD={cloud_name!r} is not one of {', '.join(AZURE_CLOUDS)}; for another cloud set "
            "ADEFLOW_ARM_ENDPOINT, ADEFLOW_ARM_SCOPE and ADEFLOW_AZURE_AUTHORITY"
        )
    return AzureSettings(
        cloud=cloud_name,
        arm_endpoint=(endpoint or cloud.arm_endpoint).rstrip("/"),
        ca_file=_existing_file(source, "ADEFLOW_ARM_CA_FILE"),
        static_token=_text(source, "ADEFLOW_ARM_STATIC_TOKEN", ""),
        arm_scope=scope or cloud.arm_scope,
        authority=authority or cloud.authority,
        lro_poll_seconds=float(_text(source, "ADEFLOW_LRO_POLL_SECONDS", str(AzureSettings.lro_poll_seconds))),
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


def _telemetry_from(source: Mapping[str, str]) -> TelemetrySettings:
    log_format = _text(source, "ADEFLOW_LOG_FORMAT", TelemetrySettings.log_format).lower()
    if log_format not in ("auto", "json", "console"):
        raise ValueError(f"ADEFLOW_LOG_FORMAT={log_format!r} must be json, console or auto")
    return TelemetrySettings(
        metrics_address=_text(source, "ADEFLOW_METRICS_ADDRESS", ""),
        log_level=_text(source, "ADEFLOW_LOG_LEVEL", TelemetrySettings.log_level).upper(),
        log_format=log_format,
    )


class _ReadTracker(Mapping[str, str]):
    """A settings source that remembers which names were looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _parse(source: Mapping[str, str]) -> Settings:
    return Settings(temporal=_temporal_from(source), azure=_azure_from(source), telemetry=_telemetry_from(source))


def setting_names() -> frozenset[str]:
    """Every variable the settings are read from (each is looked up unconditionally): the file's vocabulary."""
    tracker = _ReadTracker({})
    _parse(tracker)
    return frozenset(tracker.read | {CONFIG_FILE_ENV})


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}_"))
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = str(value)
    return flat


def load_config_file(path: Path) -> dict[str, str]:
    """A TOML or YAML settings file as ``ADEFLOW_*`` variables."""
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: expected a table of settings")
    return {ENV_PREFIX + key.upper(): value for key, value in _flatten(data).items()}


@dataclass(frozen=True)
class Settings:
    temporal: TemporalSettings = TemporalSettings()
    azure: AzureSettings = AzureSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default: the process environment) over the optional ``ADEFLOW_CONFIG_FILE``.

        Raises ValueError naming the variable when a value is unusable, so a worker stops at start-up rather
        than mid-rollout.
        """
        environ = os.environ if env is None else env
        config_file = _text(environ, CONFIG_FILE_ENV, "")
        from_file = load_config_file(Path(config_file)) if config_file else {}
        unknown = sorted(set(from_file) - setting_names())
        if unknown:
            names = ", ".join(n.removeprefix(ENV_PREFIX).lower() for n in unknown)
            raise ValueError(f"{CONFIG_FILE_ENV}={config_file}: unknown setting(s) {names}")
        return _parse({**from_file, **environ})

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
