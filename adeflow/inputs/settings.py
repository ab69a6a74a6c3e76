"""Settings from the environment (``ADEFLOW_*``), shared by the worker, the CLI and the demo.

Which Azure adeflow talks to is configuration only: the same activities reach Azure Resource Manager with
``DefaultAzureCredential``, or the ARM simulator with a static token, a custom endpoint and its CA file.
Which Temporal it talks to is configuration too: the embedded dev server, a self-hosted cluster (mTLS) or
Temporal Cloud (mTLS or API key).

``ADEFLOW_CONFIG_FILE`` may name a TOML or YAML file with the same settings: keys are the variable names
without ``ADEFLOW_``, lower case, and tables are joined with ``_`` (``[temporal] address`` is
``ADEFLOW_TEMPORAL_ADDRESS``). The environment wins over the file, so one file can serve many workers.

Reading and checking is pydantic-settings': :class:`EnvSettings` has one field per variable, named like it
(field ``temporal_address`` is ``ADEFLOW_TEMPORAL_ADDRESS`` and the file's ``[temporal] address``), with its type
and bounds. The frozen dataclasses are what the rest of adeflow reads: they hold the defaults and the values
derived from several variables (a cloud's endpoints, TLS implied by a certificate or an API key).
"""

from __future__ import annotations

import difflib
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BeforeValidator, Field, FilePath, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, InitSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from adeflow.domain import vocabulary
from adeflow.inputs.secret_files import check_private, read_secret_file

SEARCH_ATTRIBUTES = vocabulary.SEARCH_ATTRIBUTES
"""Custom search attributes adeflow's workflows set (``adeflow.domain.vocabulary``); a namespace must have them
registered first (the dev server, the compose ``temporal-setup``, ``adeflow worker --check`` and the tests all
register or check this one list)."""

WorkerRole = Literal["all", "encrypt", "create"]
"""Which activity and workflow set a worker registers (``ADEFLOW_WORKER_ROLE``)."""

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
    window replays evicted runs on every task (3x slower in ``docs/perf-baseline.md``)."""
    max_concurrent_activities: int = 100
    """Worker: activity slots (the SDK's default; measured against 200 and 400 in BENCHMARKS.md)."""
    max_concurrent_workflow_tasks: int = 100
    """Worker: workflow task slots (the SDK's default; measured in BENCHMARKS.md)."""
    worker_role: WorkerRole = "all"
    """Which runs a worker serves: ``encrypt`` (every run but VM creation, on ``task_queue``), ``create`` (runs
    that create VMs, on ``create_queue``) or ``all``. Split, the everyday worker's Azure identity needs no VM write."""
    create_task_queue: str = ""
    """Task queue of the runs that create VMs (create from an encrypted VHD); empty: ``task_queue``."""
    ui_url: str = ""
    """The Temporal UI of this server, for the links commands print; empty: no links (see :func:`temporal_ui`)."""

    @property
    def create_queue(self) -> str:
        return self.create_task_queue or self.task_queue


TEMPORAL_CLOUD_UI = "https://cloud.temporal.io"
TEMPORAL_CLOUD_HOSTS = (".tmprl.cloud", ".api.temporal.io")


def temporal_ui(given: str | None, address: str) -> str:
    """The UI that links point at: ``ADEFLOW_TEMPORAL_UI`` when set, Temporal Cloud's for a Cloud address, else
    none. A self-hosted UI's address cannot be told from the frontend's (the compose stack serves it on another
    port, the dev server on the frontend's port + 1000 unless told otherwise), so it is never guessed."""
    if given:
        return given.rstrip("/")
    host = address.rsplit(":", 1)[0].lower()
    return TEMPORAL_CLOUD_UI if host.endswith(TEMPORAL_CLOUD_HOSTS) else ""


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

AZURE_ARM_HOSTS = frozenset(
    {str(urlsplit(cloud.arm_endpoint).hostname) for cloud in AZURE_CLOUDS.values()} | {"management.microsoftazure.de"}
)
"""Azure Resource Manager's hosts in Azure's clouds (and Azure Germany's, retired); their subdomains are ARM too."""


def is_azure_arm(endpoint: str) -> bool:
    """Whether ``endpoint`` is Azure Resource Manager in one of Azure's clouds (not a simulator, not a proxy)."""
    host = (urlsplit(endpoint).hostname or "").lower().rstrip(".")
    return any(host == arm or host.endswith("." + arm) for arm in AZURE_ARM_HOSTS)


@dataclass(frozen=True)
class TelemetrySettings:
    metrics_address: str = ""
    """``host:port`` of the worker's Prometheus endpoint (``/metrics``); empty means no endpoint."""
    log_level: str = "INFO"
    log_format: str = "auto"
    """``json``, ``console``, or ``auto``: console on a terminal, JSON otherwise (containers, log shippers)."""
    health_file: str = field(default_factory=lambda: str(Path(tempfile.gettempdir()) / "adeflow-worker.alive"))
    """The beat the worker's event loop rewrites every 5 s and ``python -m worker.healthcheck`` reads."""


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
    arm_scope_set: bool = False
    """``ADEFLOW_ARM_SCOPE`` was given: the operator chose which endpoint receives identity tokens."""
    authority: str = "login.microsoftonline.com"
    """Entra ID authority host of ``cloud`` for DefaultAzureCredential."""
    lro_poll_seconds: float = 30.0
    """Poll interval of Azure long-running operations when ARM sends no Retry-After."""
    # --- ARM request budget (activities/azure/arm_budget.py, docs/original-design.md §5 invariant 8) ----------------
    # ARM allows per subscription reads 250 (refill 25/s), writes and deletes 200 (refill 10/s) and, per VM,
    # 12 "Update VM" calls (refill 4/min) (docs/arm-reference.md §e). The worker waits for its own, smaller, buckets
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


# ------------------------------------------------------------------------------------- the variables, as set

Count = Annotated[int, Field(ge=1)]
"""A whole number >= 1 (worker slots and cache)."""
Budget = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""An ARM budget rate or burst: finite and >= 0, so a typo stops the worker at start instead of letting it run
unthrottled mid-rollout."""
Share = Annotated[float, Field(gt=0, le=1)]
"""This worker's fraction of the ARM budgets: 1/N when N workers share the subscriptions."""
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""An interval: more than 0, which would poll ARM in a tight loop."""


def _case(convert: Callable[[str], str]) -> BeforeValidator:
    return BeforeValidator(lambda value: convert(value) if isinstance(value, str) else value)


class EnvSettings(BaseSettings):
    """One field per ``ADEFLOW_*`` variable (and key of the config file), ``None`` when not set.

    ``Settings.from_env`` reads this, then builds the dataclasses above: they hold the defaults and the values
    derived from several variables.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True, coerce_numbers_to_str=True)

    temporal_address: str | None = None
    temporal_namespace: str | None = None
    task_queue: str | None = None
    worker_max_cached_workflows: Count | None = None
    worker_max_concurrent_activities: Count | None = None
    worker_max_concurrent_workflow_tasks: Count | None = None
    worker_role: Annotated[WorkerRole | None, _case(str.lower)] = None
    create_task_queue: str | None = None
    temporal_tls: bool | None = None
    temporal_tls_cert: FilePath | None = None
    temporal_tls_key: FilePath | None = None
    temporal_tls_ca: FilePath | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = None
    temporal_api_key_file: FilePath | None = None
    """The API key from a file (a mounted secret) instead of the environment."""
    temporal_ui: str | None = None
    """The Temporal UI's base URL, for links (``http://localhost:8080``)."""

    azure_cloud: str | None = None
    arm_endpoint: str | None = None
    arm_scope: str | None = None
    azure_authority: str | None = None
    arm_ca_file: FilePath | None = None
    arm_static_token: SecretStr | None = None
    lro_poll_seconds: Seconds | None = None
    arm_reads_per_s: Budget | None = None
    arm_reads_capacity: Budget | None = None
    arm_writes_per_s: Budget | None = None
    arm_writes_capacity: Budget | None = None
    arm_deletes_per_s: Budget | None = None
    arm_deletes_capacity: Budget | None = None
    arm_vm_updates_per_min: Budget | None = None
    arm_vm_updates_capacity: Budget | None = None
    arm_budget_share: Share | None = None

    metrics_address: str | None = None
    health_file: str | None = None
    log_level: Annotated[str | None, _case(str.upper)] = None
    log_format: Annotated[Literal["json", "console", "auto"] | None, _case(str.lower)] = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """Blank means unset, so compose files can pass ``${VAR:-}`` through and a file can say ``""``."""
        return (value.strip() or None) if isinstance(value, str) else value


_ARM_BUDGET = (
    "arm_reads_per_s",
    "arm_reads_capacity",
    "arm_writes_per_s",
    "arm_writes_capacity",
    "arm_deletes_per_s",
    "arm_deletes_capacity",
    "arm_vm_updates_per_min",
    "arm_vm_updates_capacity",
    "arm_budget_share",
)
"""The ARM budget fields: the same names on :class:`EnvSettings` and :class:`AzureSettings`."""


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (the process environment, or a test's)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        given = {name: value for name, value in self._environ.items() if value.strip()}  # blank: the file's value
        return parse_env_vars(given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}".lower()
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


SECRET_SETTINGS = frozenset({"temporal_api_key", "arm_static_token"})
"""Settings whose value is a secret: a config file that holds one must be private like a ``*_FILE`` secret."""


def load_config_file(path: Path) -> dict[str, Any]:
    """A TOML or YAML settings file, its tables joined with ``_``: ``{"temporal_address": ...}``."""
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{CONFIG_FILE_ENV}={path}: expected a table of settings")
    flat = _flatten(data)
    inline = sorted(name for name in SECRET_SETTINGS if flat.get(name))
    if inline:  # a secret written into the file is as exposed as the file
        check_private(path, CONFIG_FILE_ENV, " and ".join(inline))
    return flat


def setting_names() -> frozenset[str]:
    """Every variable the settings are read from: the file's vocabulary, and the README's table."""
    return frozenset({CONFIG_FILE_ENV, *(ENV_PREFIX + name.upper() for name in EnvSettings.model_fields)})


# ------------------------------------------------------------------------------------ errors that name the variable

_EXPECTED = {
    "bool_parsing": "is not a boolean (true or false)",
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "finite_number": "is not a finite number",
    "greater_than_equal": "must be at least {ge:g}",
    "greater_than": "must be more than {gt:g}",
    "less_than_equal": "must be at most {le:g}",
    "path_not_file": "does not exist or is not a file",
    "literal_error": "must be {expected}",
    "string_type": "must be a string",
}
"""pydantic's error types in the words of the README's table; any other error keeps pydantic's message."""


def _explain(exc: ValidationError, env: _EnvironSource, config_file: str) -> ValueError:
    """One ValueError naming each unusable variable, its value, where it came from and what it must be."""
    unknown = [str(error["loc"][0]) for error in exc.errors() if error["type"] == "extra_forbidden"]
    lines = [_explain_field(error, env, config_file) for error in exc.errors() if error["type"] != "extra_forbidden"]
    if unknown:
        lines.append(f"{CONFIG_FILE_ENV}={config_file}: unknown setting(s) {', '.join(map(_did_you_mean, unknown))}")
    return ValueError("; ".join(lines))


def _explain_field(error: ErrorDetails, env: _EnvironSource, config_file: str) -> str:
    name = str(error["loc"][0])
    value = "<hidden>" if EnvSettings.model_fields[name].annotation == SecretStr | None else repr(error["input"])
    origin = "" if env.env_vars.get(ENV_PREFIX.lower() + name) is not None else f" (in {CONFIG_FILE_ENV}={config_file})"
    expected = _EXPECTED.get(error["type"])
    # literal_error's choices come quoted ("'json', 'console' or 'auto'"); the README's table does not quote them
    reason = expected.format(**error.get("ctx", {})).replace("'", "") if expected else error["msg"].lower()
    return f"{ENV_PREFIX}{name.upper()}={value}{origin} {reason}"


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, EnvSettings.model_fields, n=1)
    return f"{key} (did you mean {close[0]}?)" if close else key


# ---------------------------------------------------------------------------- the variables, as adeflow uses them


def _given(**values: Any) -> dict[str, Any]:
    """The values that were set; the dataclass defaults stand for the others."""
    return {name: value for name, value in values.items() if value is not None}


def _path(value: Path | None) -> str | None:
    return None if value is None else str(value)


def _temporal(env: EnvSettings) -> TemporalSettings:
    cert, key, ca = env.temporal_tls_cert, env.temporal_tls_key, env.temporal_tls_ca
    if (cert is None) != (key is None):
        raise ValueError("ADEFLOW_TEMPORAL_TLS_CERT and ADEFLOW_TEMPORAL_TLS_KEY go together (mTLS needs both)")
    api_key = env.temporal_api_key.get_secret_value() if env.temporal_api_key else None
    if env.temporal_api_key_file is not None:
        if api_key is not None:
            raise ValueError("set ADEFLOW_TEMPORAL_API_KEY or ADEFLOW_TEMPORAL_API_KEY_FILE, not both")
        api_key = read_secret_file(env.temporal_api_key_file, "ADEFLOW_TEMPORAL_API_KEY_FILE").strip()
    role, queue = env.worker_role or "all", env.task_queue or TemporalSettings.task_queue
    if role != "all" and (env.create_task_queue or queue) == queue:
        raise ValueError(
            f"ADEFLOW_WORKER_ROLE={role} needs ADEFLOW_CREATE_TASK_QUEUE set to a queue other than "
            f"ADEFLOW_TASK_QUEUE={queue}: runs that create VMs go there, to the create worker"
        )
    implied = bool(cert or ca or env.temporal_tls_server_name or api_key)
    if implied and env.temporal_tls is False:
        raise ValueError("ADEFLOW_TEMPORAL_TLS=false contradicts the TLS files or API key that are set")
    return TemporalSettings(
        **_given(
            address=env.temporal_address,
            namespace=env.temporal_namespace,
            task_queue=env.task_queue,
            tls=implied if env.temporal_tls is None else env.temporal_tls,
            tls_cert_file=_path(cert),
            tls_key_file=_path(key),
            tls_ca_file=_path(ca),
            tls_server_name=env.temporal_tls_server_name,
            api_key=api_key,
            max_cached_workflows=env.worker_max_cached_workflows,
            max_concurrent_activities=env.worker_max_concurrent_activities,
            max_concurrent_workflow_tasks=env.worker_max_concurrent_workflow_tasks,
            ui_url=temporal_ui(env.temporal_ui, env.temporal_address or TemporalSettings.address),
            worker_role=env.worker_role,
            create_task_queue=env.create_task_queue,
        )
    )


def _azure(env: EnvSettings) -> AzureSettings:
    cloud_name = env.azure_cloud or AzureSettings.cloud
    known = {name.lower(): name for name in AZURE_CLOUDS}
    endpoint, scope, authority = env.arm_endpoint, env.arm_scope, env.azure_authority
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
    azure = AzureSettings(
        **_given(
            cloud=cloud_name,
            arm_endpoint=(endpoint or cloud.arm_endpoint).rstrip("/"),
            ca_file=_path(env.arm_ca_file),
            static_token=env.arm_static_token.get_secret_value() if env.arm_static_token else None,
            arm_scope=scope or cloud.arm_scope,
            arm_scope_set=scope is not None,
            authority=authority or cloud.authority,
            lro_poll_seconds=env.lro_poll_seconds,
            **{name: getattr(env, name) for name in _ARM_BUDGET},
        )
    )
    problem = credential_refusal(azure)
    if problem:
        raise ValueError(problem)
    return azure


def credential_refusal(azure: AzureSettings) -> str | None:
    """Why this endpoint must not get this credential, or None. Checked at start-up and by ``AzureClients``.

    A static token never refreshes and sits in the environment: it is for the simulator, never for Azure's ARM
    (a token pasted for a quick test would otherwise run a rollout until it expires mid-way). An identity token
    (``DefaultAzureCredential``) for Azure's ARM scope would be handed to whatever ``ADEFLOW_ARM_ENDPOINT`` names,
    so a typo or a hostile value there would leak a token good for every subscription in scope; only an explicit
    ``ADEFLOW_ARM_SCOPE`` (Azure Stack Hub, an ARM proxy) says that endpoint is meant to receive one.
    """
    azure_arm = is_azure_arm(azure.arm_endpoint)
    if azure.static_token and azure_arm:
        return (
            f"ADEFLOW_ARM_STATIC_TOKEN is set and ADEFLOW_ARM_ENDPOINT={azure.arm_endpoint} is Azure Resource Manager: "
            "a static token is for the ARM simulator (it never refreshes); unset it to use DefaultAzureCredential "
            "(managed identity, workload identity or a service principal), or point ADEFLOW_ARM_ENDPOINT at the "
            "simulator"
        )
    if not azure.static_token and not azure_arm and not azure.arm_scope_set:
        return (
            f"ADEFLOW_ARM_ENDPOINT={azure.arm_endpoint} is not Azure Resource Manager, and DefaultAzureCredential "
            f"would send it an Azure token (scope {azure.arm_scope}): for the simulator set ADEFLOW_ARM_STATIC_TOKEN; "
            "for an Azure endpoint of your own (Azure Stack Hub, an ARM proxy) set ADEFLOW_ARM_SCOPE explicitly"
        )
    return None


def _telemetry(env: EnvSettings) -> TelemetrySettings:
    return TelemetrySettings(
        **_given(
            metrics_address=env.metrics_address,
            health_file=env.health_file,
            log_level=env.log_level,
            log_format=env.log_format,
        )
    )


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
        config_file = environ.get(CONFIG_FILE_ENV, "").strip()
        from_file = load_config_file(Path(config_file)) if config_file else {}
        env_source = _EnvironSource(EnvSettings, environ)
        sources = (env_source, InitSettingsSource(EnvSettings, from_file))  # the first wins
        try:
            # mypy sees pydantic's __init__ from the fields; BaseSettings' own takes _build_sources (2.13+).
            variables = EnvSettings(_build_sources=(sources, {}))  # type: ignore[call-arg]
        except ValidationError as exc:
            raise _explain(exc, env_source, config_file) from None
        return Settings(temporal=_temporal(variables), azure=_azure(variables), telemetry=_telemetry(variables))

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
