"""One validator per kind of value an operator writes: ids, key URLs, durations, budgets, names and choices.

The manifest, the campaign file, the campaign plan and the CLI all parse through these functions, so a value gets
the same verdict wherever it is written (issue 15). Each ``parse_<kind>`` takes what was written (a string, or a
YAML number or flag where the kind allows one) and returns the value, or raises ``ValueError`` whose message names
the expected format and the rule where one applies (R-ENA-3 for vaults and key URLs). Pure and stdlib only.

Common to every text kind: no surrounding spaces (the JSON Schemas reject them too, so loader and schema agree),
and never empty. Choices compare without case, as ADE itself does for ``VolumeType`` (arm-reference §a.2).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, TypeVar
from urllib.parse import urlsplit

from adeflow.domain.fleet import FailureBudget
from adeflow.domain.migration.payloads import NicPolicy, PathPolicy
from adeflow.domain.model import BackupPolicy, KeyEncryptionKey, RestartPolicy, VmRef, VolumeType
from adeflow.domain.resource_ids import ResourceId, parse_resource_id, scale_set_instance_refusal
from adeflow.domain.vocabulary import GUEST_CHECKS

T = TypeVar("T")

VM_ID_FORMAT = "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>"
VAULT_ID_FORMAT = "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>"
KEK_URL_FORMAT = "https://<vault>.vault.azure.net/keys/<name>/<version>"
KEY_URL_FORMAT = "https://<vault>.vault.azure.net/keys/<name>[/<version>]"
DURATION_FORMAT = "a duration like 30s, 5m, 2h, 1d (or seconds as a number)"
VAULT_DNS_SUFFIXES = ("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net", "vault.microsoftazure.de")
"""Key Vault hosts in the public and sovereign clouds (az cloud show: suffixes.keyvaultDns)."""
KEY_ENCRYPTION_ALGORITHMS = ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5")
"""R-ENA-3 / arm-reference §a.2: what the extension accepts as ``KeyEncryptionAlgorithm``."""
ROLLOUT_NAME_MAX = 63

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME_SEGMENT = re.compile(r"^[^/\s]+$")
_VAULT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_OBJECT_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_OBJECT_VERSION = re.compile(r"^[0-9A-Fa-f]{32}$")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERCENT = re.compile(r"^(?:[0-9]{1,2}(?:\.[0-9]+)?|100(?:\.0+)?)%$")
_ANY_PERCENT = re.compile(r"^\d+(?:\.\d+)?%$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PORT_443 = re.compile(r"^([^/@]+):443$")
CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = ("minute", "hour", "day of month", "month", "day of week")


# ---------------------------------------------------------------------------------------------- shared


def kind_of(value: object) -> str:
    """How a value reads in a message: ``got a number``, ``got nothing (null)``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, date):
        return "a timestamp"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


def suggest(word: str, choices: Sequence[str]) -> str:
    """``did you mean "x"? `` for the closest choice, or nothing."""
    match = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not match:
        return ""
    original = next(c for c in choices if c.lower() == match[0])
    return f'did you mean "{original}"? '


def text(value: object, what: str) -> str:
    """A string as written: not another type, not empty, no surrounding spaces."""
    if not isinstance(value, str):
        raise ValueError(f"expected {what}; got {kind_of(value)}")
    if not value:
        raise ValueError(f"expected {what}; got an empty string")
    if value != value.strip():
        raise ValueError(f"expected {what} without spaces around it; got {value!r}")
    return value


def parse_whole_number(value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number; got {kind_of(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"must be {bound}; got {value}")
    return value


def parse_rate_gb_per_hour(value: object) -> float:
    """An encryption rate in GB per hour: a number above 0 (the poll schedule's fastest expected rate, issue 18)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number of GB per hour; got {kind_of(value)}")
    if not 0 < value < float("inf"):
        raise ValueError(f"must be more than 0 GB per hour; got {value}")
    return float(value)


def parse_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false; got {kind_of(value)}")
    return value


def parse_choice(value: object, choices: Sequence[T], *, case_sensitive: bool = False) -> T:
    """One of ``choices`` (written as ``str(choice)``); any case unless ``case_sensitive``."""
    names = [str(c) for c in choices]
    written = text(value, f"one of {', '.join(names)}")
    for choice, name in zip(choices, names, strict=True):
        if name == written or (not case_sensitive and name.lower() == written.lower()):
            return choice
    raise ValueError(f"must be one of {', '.join(names)}; {suggest(written, names)}got {written!r}")


# ---------------------------------------------------------------------------------------------- choices


def parse_volume_type(value: object) -> VolumeType:
    """R-ENA-3: ``OS``, ``Data`` or ``All``, any case (the extension lower-cases before comparing)."""
    return parse_choice(value, list(VolumeType))


def parse_backup_policy(value: object) -> BackupPolicy:
    return parse_choice(value, list(BackupPolicy))


def parse_restart_policy(value: object) -> RestartPolicy:
    return parse_choice(value, list(RestartPolicy))


def parse_key_encryption_algorithm(value: object) -> str:
    return parse_choice(value, KEY_ENCRYPTION_ALGORITHMS)


def parse_confirmation(value: object) -> str:
    """A guest-side check the operator vouches for, by its name in :data:`adeflow.domain.rules.GUEST_CHECKS`."""
    vocabulary = list(GUEST_CHECKS)
    if not isinstance(value, str):
        raise ValueError(f"expected a confirmation name; got {kind_of(value)}; known: {', '.join(vocabulary)}")
    if value not in GUEST_CHECKS:
        raise ValueError(f'unknown confirmation "{value}"; {suggest(value, vocabulary)}known: {", ".join(vocabulary)}')
    return value


# ---------------------------------------------------------------------------------------------- names and ids


def parse_name(value: object, what: str, max_length: int) -> str:
    """A name that becomes part of a workflow or schedule id: letters, digits, ``. _ -``."""
    written = text(value, what)
    if not _NAME.match(written) or len(written) > max_length:
        raise ValueError(
            f"use letters, digits, '.', '_' and '-' (at most {max_length}, starting with a letter or digit); "
            f"got {written!r}"
        )
    return written


def parse_rollout_name(value: object) -> str:
    return parse_name(value, "a rollout name", ROLLOUT_NAME_MAX)


def parse_subscription_id(value: object) -> str:
    written = text(value, "a subscription id (a GUID)")
    if not _GUID.match(written):
        raise ValueError(f"subscription must be a GUID like 00000000-0000-0000-0000-000000000000; got {written!r}")
    return written


def parse_name_segment(value: object, what: str) -> str:
    """A resource group or VM name: one segment of a resource id."""
    written = text(value, what)
    if not _NAME_SEGMENT.match(written):
        raise ValueError(f"{what} must not contain '/' or spaces; got {written!r}")
    return written


def _resource_id(value: object, what: str, provider_type: str, id_format: str, rule: str) -> tuple[str, ResourceId]:
    written = text(value, f"a {what} ({id_format}){rule}")
    try:
        parsed = parse_resource_id(written)
    except ValueError:
        raise ValueError(f"malformed {what} {written!r}: expected {id_format}{rule}") from None
    if not (_NAME_SEGMENT.match(parsed.resource_group) and _NAME_SEGMENT.match(parsed.name)):
        raise ValueError(f"malformed {what} {written!r}: names must not contain spaces; expected {id_format}{rule}")
    if parsed.provider_type.lower() != provider_type.lower():
        short = what.removesuffix(" resource id")
        raise ValueError(f"{written!r} is a {parsed.provider_type} id; expected a {short} id ({id_format}){rule}")
    if not _GUID.match(parsed.subscription_id):
        raise ValueError(f"subscription {parsed.subscription_id!r} in {written!r} is not a GUID{rule}")
    return written, parsed


def parse_vm_id(value: object) -> VmRef:
    refusal = scale_set_instance_refusal(value) if isinstance(value, str) else None
    if refusal is not None:
        raise ValueError(refusal)
    _, parsed = _resource_id(value, "VM resource id", "Microsoft.Compute/virtualMachines", VM_ID_FORMAT, "")
    return VmRef(parsed.subscription_id, parsed.resource_group, parsed.name)


def parse_vault_id(value: object) -> str:
    """R-ENA-3: a Key Vault as its full resource id (returned without a trailing slash)."""
    written, parsed = _resource_id(
        value, "Key Vault resource id", "Microsoft.KeyVault/vaults", VAULT_ID_FORMAT, " (R-ENA-3)"
    )
    if not _is_vault_name(parsed.name):
        raise ValueError(
            f"{parsed.name!r} in {written!r} is not a Key Vault name: 3-24 letters, digits and single hyphens, "
            "starting with a letter (R-ENA-3)"
        )
    return written.rstrip("/")


def vault_name(vault_id: str) -> str:
    return parse_resource_id(vault_id).name


def _is_vault_name(name: str) -> bool:
    return bool(_VAULT_NAME.match(name)) and "--" not in name


# ---------------------------------------------------------------------------------------------- Key Vault URLs


@dataclass(frozen=True)
class VaultObjectUrl:
    """A Key Vault secret or key URL, split: ``https://<vault>.<suffix>/<kind>/<name>[/<version>]``."""

    vault: str
    """Lower case, as DNS names compare."""
    kind: str
    name: str
    version: str
    """32 hex digits in lower case; empty for an unversioned key (a campaign's rotate target)."""
    suffix: str = "vault.azure.net"

    @property
    def versioned(self) -> str:
        return f"{self.vault}/{self.kind}/{self.name}/{self.version}".lower()

    @property
    def url(self) -> str:
        """The canonical URL: what adeflow sends, without a port or a trailing slash."""
        return f"https://{self.vault}.{self.suffix}/{self.kind}/{self.name}" + (
            f"/{self.version}" if self.version else ""
        )


def _split_vault_url(url: str, kind: str, *, versioned: bool) -> VaultObjectUrl:
    """The one Key Vault URL grammar (arm-reference §d.4, [D15]): https, a Key Vault host of a known cloud, no
    port, user, query or fragment, ``/<kind>/<name>/<version>`` with a 32-hex version. ``ValueError`` says why."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("it contains spaces or control characters")  # urlsplit would quietly drop some
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    host = (parts.hostname or "").lower()
    vault, _, suffix = host.partition(".")
    if parts.scheme != "https":
        raise ValueError("not an https URL")
    if suffix not in VAULT_DNS_SUFFIXES or parts.username is not None or parts.password is not None:
        raise ValueError(f"not a Key Vault host (<vault>.{' / .'.join(VAULT_DNS_SUFFIXES)})")
    if not _is_vault_name(vault):
        raise ValueError(f"{vault!r} is not a Key Vault name (3-24 letters, digits and single hyphens)")
    if port is not None:
        raise ValueError("it has a port")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("it has a query or fragment")
    path = parts.path.removesuffix("/")
    segments = path.split("/")[1:] if path.startswith("/") else []
    if len(segments) not in (2, 3) or segments[0].lower() != kind:
        shape = f".../{kind}/<name>/<version>" if versioned else f".../{kind}/<name>[/<version>]"
        raise ValueError(f"not a {kind[:-1]} URL ({shape})")
    if versioned and len(segments) == 2:
        raise ValueError("no version")
    name, version = segments[1], (segments[2] if len(segments) == 3 else "")
    if not _OBJECT_NAME.match(name):
        raise ValueError(f"{name!r} is not a Key Vault object name")
    if len(segments) == 3 and not _OBJECT_VERSION.match(version):
        raise ValueError(f"{version!r} is not a Key Vault version (32 hex digits)")
    return VaultObjectUrl(vault, kind, name, version.lower(), suffix)


def parse_vault_object_url(url: str, kind: str) -> VaultObjectUrl:
    """A versioned secret (``kind="secrets"``) or key URL, as ADE and a VM's encryption settings need it."""
    written = text(url, f"a Key Vault {kind[:-1]} URL")
    try:
        return _split_vault_url(written, kind, versioned=True)
    except ValueError as exc:
        raise ValueError(f"{written!r}: {exc}") from None


def parse_kek_url(value: object) -> VaultObjectUrl:
    """R-ENA-3: a KEK is a versioned key URL without a port, in a Key Vault of a known cloud."""
    expected = f"a versioned key URL {KEK_URL_FORMAT}, no port (R-ENA-3)"
    written = text(value, expected)
    try:
        return _split_vault_url(written, "keys", versioned=True)
    except ValueError as exc:
        raise ValueError(f"malformed KEK URL {written!r}: {exc}; expected {expected}") from None


def parse_key_url(value: object) -> VaultObjectUrl:
    """A campaign's rotate target: a key URL, versioned or not (unversioned: the key's current version)."""
    expected = f"{KEY_URL_FORMAT}, no port (R-ENA-3)"
    written = text(value, f"a key URL {expected}")
    try:
        return _split_vault_url(written, "keys", versioned=False)
    except ValueError as exc:
        raise ValueError(f"malformed key URL {written!r}: {exc}; expected {expected}") from None


def parse_reported_key_url(url: str) -> VaultObjectUrl:
    """A key URL as Azure reports it (extension settings, Key Vault's ``keyUriWithVersion``), by the same grammar.

    Only difference to operator input: Key Vault's management plane writes the default port (``...net:443/keys``),
    so ``:443`` is dropped first. Versioned or not.
    """
    parts = url.split("/", 3)
    if len(parts) == 4 and (match := _PORT_443.match(parts[2])):
        parts[2] = match[1]
    try:
        return _split_vault_url("/".join(parts), "keys", versioned=False)
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None


def check_same_vault(key: VaultObjectUrl, vault_id: str, vault_label: str = "vault_id") -> None:
    """R-ENA-3: the KEK URL's vault is the vault that ``vault_id`` names (ADE checks the names match)."""
    name = vault_name(vault_id)
    if key.vault != name.lower():
        raise ValueError(
            f"the key is in vault {key.vault!r} but {vault_label} names vault {name!r}; they must be the same "
            "vault (R-ENA-3)"
        )


def parse_kek(key_url: object, vault_id: object, vault_label: str = "the KEK vault id") -> KeyEncryptionKey:
    """A whole KEK (R-ENA-3): the URL, its vault's resource id, and that they name the same vault."""
    key = parse_kek_url(key_url)
    vault = parse_vault_id(vault_id)
    check_same_vault(key, vault, vault_label)
    return KeyEncryptionKey(key.url, vault)


# ---------------------------------------------------------------------------------------------- amounts


def parse_duration(value: object) -> float:
    """Seconds from ``30s``, ``5m``, ``2h``, ``1d``, ``1h30m`` (lower case, no spaces) or a positive number."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.match(value):
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(value))
    if seconds is None:
        shown = repr(value) if isinstance(value, str) else kind_of(value)
        raise ValueError(f"expected {DURATION_FORMAT}; got {shown}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"must be positive; got {value}")
    return seconds


def parse_failure_budget(value: object) -> FailureBudget:
    """A count of failed VMs (``3``, ``0`` = halt at the first) or a percentage of the fleet (``5%``, at most 100)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return FailureBudget(count=parse_whole_number(value, 0))
    if isinstance(value, str):
        if _PERCENT.match(value):
            return FailureBudget(fraction=float(value[:-1]) / 100)
        if _ANY_PERCENT.match(value) and float(value[:-1]) > 100:
            raise ValueError(f"a percentage must be at most 100%; got {value!r}")
    shown = repr(value) if isinstance(value, str) else kind_of(value)
    raise ValueError(f"expected a count (3) or a percentage (5%); got {shown}")


def parse_cron(value: object) -> str:
    """A 5-field cron expression (minute hour day-of-month month day-of-week) or an alias such as ``@daily``."""
    written = text(value, 'a cron expression like "0 2 * * 1"')
    if written.startswith("@"):
        if written in CRON_ALIASES:
            return written
        raise ValueError(
            f"unknown cron alias {written!r}; {suggest(written, CRON_ALIASES)}known: {', '.join(CRON_ALIASES)}"
        )
    fields = written.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week); got {written!r}"
        )
    for field, (low, high), what in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
        numbers = [int(n) for n in re.findall(r"\d+", field)] if _CRON_FIELD.match(field) else None
        step = field.split("/", 1)[1] if "/" in field else ""
        bounded = [n for n in (numbers or []) if not (step and str(n) == step)]
        if numbers is None or any(n < low or n > high for n in bounded):
            raise ValueError(f"{what} field {field!r} is not valid (numbers {low}-{high}, * , - /)")
    return written


# ---------------------------------------------------------------------------------------------- migration (M-1..M-8)

TODO: Final = "TODO"
"""What ``adeflow migrate plan`` writes where only the operator knows the value (the M-4 image and first login):
every validator below refuses it, naming what to fill in, until it is replaced."""
DOWNTIME_APPROVAL: Final = "approval"
"""``downtime: approval``: no window; the source is stopped only after an operator's recorded approval (M-7)."""
TIMESTAMP_FORMAT = "a time with its zone, e.g. 2026-11-07T22:00:00Z or 2026-11-07T23:00:00+01:00"
SIZE_FORMAT = "a size in MiB or GiB, e.g. 256MiB or 1GiB"
IMAGE_ID_FORMAT = (
    "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/images/<name> or "
    ".../Microsoft.Compute/galleries/<gallery>/images/<definition>[/versions/<version>]"
)
SAS_MIN_SECONDS = 300
"""The shortest disk SAS a copy accepts (the domain's preflight refuses less); an expired one is renewed mid-copy."""
COPY_PARALLELISM_MAX = 64
CHECKPOINT_MIN_MIB = 4
"""A checkpoint covers at least one Put Page From URL call (4 MiB)."""
ADMIN_USERNAME_MAX = 64
RESERVED_ADMIN_USERNAMES = (
    "administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123", "a",
    "actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root", "server",
    "sql", "support", "support_388945a0", "sys", "test2", "test3", "user4", "user5",
)  # fmt: skip
"""Compute API ``osProfile.adminUsername``: "Disallowed values" (compared without case here)."""

_TIMESTAMP = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?"
    r"([Zz]|[+-]\d{2}:\d{2})$"
)
_TODO = re.compile(r"^TODO\b")
_SIZE = re.compile(r"^([1-9]\d*)(MiB|GiB)$")
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]{0,23}[A-Za-z0-9_-]$")
_VM_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$")
_IMAGE_ID = re.compile(
    r"^/subscriptions/[^/\s]+/resourceGroups/[^/\s]+/providers/Microsoft\.Compute/"
    r"(images/[^/\s]+|galleries/[^/\s]+/images/[^/\s]+(/versions/[^/\s]+)?)/?$",
    re.IGNORECASE,
)
_IMAGE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_IMAGE_VERSION = re.compile(r"^(latest|\d+\.\d+\.\d+)$")
_ADMIN_USERNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_SSH_PUBLIC_KEY = re.compile(r"^(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$")


def not_todo(value: object, fill: str) -> object:
    """``value`` unless it is still the TODO that ``adeflow migrate plan`` left: then say what to fill in."""
    if isinstance(value, str) and _TODO.match(value.strip()):
        raise ValueError(f"still {TODO}: {fill}")
    return value


def parse_path_policy(value: object) -> PathPolicy:
    """``auto`` (M-3 unless the OS volume is encrypted, then M-4), ``copy-disks`` (M-3) or ``rebuild`` (M-4)."""
    return parse_choice(value, list(PathPolicy))


def parse_nic_policy(value: object) -> NicPolicy:
    """``new`` (a new NIC in the source's subnet) or ``reuse`` (the source's NIC and private IP, M-7)."""
    return parse_choice(value, list(NicPolicy))


def parse_timestamp(value: object) -> datetime:
    """A point in time with its zone (returned in UTC): a YAML timestamp, or ISO 8601 text. A time without a zone
    is refused: a downtime window read in the worker's zone would stop a VM hours early or late (M-7)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"give the time zone (Z or +01:00); expected {TIMESTAMP_FORMAT}")
        return value.astimezone(UTC)
    if isinstance(value, date):
        raise ValueError(f"give a time and its zone, not only a date; expected {TIMESTAMP_FORMAT}")
    written = text(value, TIMESTAMP_FORMAT)
    if not _TIMESTAMP.match(written):
        if _TIMESTAMP.match(f"{written}Z"):
            raise ValueError(f"give the time zone (Z or +01:00); expected {TIMESTAMP_FORMAT}")
        raise ValueError(f"expected {TIMESTAMP_FORMAT}; got {written!r}")
    try:
        parsed = datetime.fromisoformat(written.replace("z", "Z").replace("t", "T"))
    except ValueError as exc:
        raise ValueError(f"{written!r} is not a valid time: {exc}") from None
    return parsed.astimezone(UTC)


def parse_size(value: object, minimum_mib: int = 1) -> int:
    """Bytes from ``256MiB`` or ``1GiB`` (binary units only: always whole 512-byte pages)."""
    written = text(value, SIZE_FORMAT)
    match = _SIZE.match(written)
    if not match:
        raise ValueError(f"expected {SIZE_FORMAT}; got {written!r}")
    mib = int(match[1]) * (1024 if match[2] == "GiB" else 1)
    if mib < minimum_mib:
        raise ValueError(f"must be at least {minimum_mib}MiB; got {written!r}")
    return mib * 1024 * 1024


def parse_checkpoint_size(value: object) -> int:
    """Bytes copied between two recorded checkpoints: a resumed copy re-copies at most this much (M-3)."""
    return parse_size(value, CHECKPOINT_MIN_MIB)


def parse_sas_duration(value: object) -> int:
    """Whole seconds of a disk SAS (``beginGetAccess`` ``durationInSeconds``), at least 5 minutes."""
    seconds = parse_duration(value)
    if seconds < SAS_MIN_SECONDS:
        raise ValueError(f"must be at least 5m ({SAS_MIN_SECONDS} s): a copy renews the SAS, not every few seconds")
    return math.ceil(seconds)


def parse_copy_parallelism(value: object) -> int:
    """Put Page From URL calls in flight per disk."""
    return parse_whole_number(value, 1, COPY_PARALLELISM_MAX)


def parse_name_suffix(value: object) -> str:
    """Appended to the source's VM, disk and NIC names (M-1: new resources next to the source, never the same name)."""
    written = text(value, "a name suffix like -eah")
    if not _SUFFIX.match(written):
        raise ValueError(f"use 1-24 letters, digits, '.', '_' and '-', not ending with '.' (M-1); got {written!r}")
    return written


def parse_vm_name(value: object) -> str:
    """A Linux VM name: 1-64 letters, digits, ``. _ -``, starting with a letter or digit, not ending with ``.``."""
    written = text(value, "a VM name")
    if not _VM_NAME.match(written):
        raise ValueError(
            "a Linux VM name has 1-64 letters, digits, '.', '_' and '-', starts with a letter or digit and does not "
            f"end with '.'; got {written!r}"
        )
    return written


def parse_image_part(value: object, what: str) -> str:
    """A marketplace image's publisher, offer or sku (M-4)."""
    written = text(not_todo(value, f"name the image's {what} (M-4), or give image.id instead"), f"an image {what}")
    if not _IMAGE_PART.match(written):
        raise ValueError(f"an image {what} has letters, digits, '.', '_' and '-'; got {written!r}")
    return written


def parse_image_version(value: object) -> str:
    written = text(not_todo(value, "give the image version (M-4), e.g. latest"), "an image version")
    if not _IMAGE_VERSION.match(written):
        raise ValueError(f"an image version is latest or three numbers like 22.04.202604010; got {written!r}")
    return written


def parse_image_id(value: object) -> str:
    """A managed image or an Azure Compute Gallery image (definition or version), as its resource id (M-4)."""
    written = text(not_todo(value, f"give the image's resource id ({IMAGE_ID_FORMAT}) (M-4)"), "an image id")
    if not _IMAGE_ID.match(written) or not _GUID.match(written.split("/")[2]):
        raise ValueError(f"expected an image resource id ({IMAGE_ID_FORMAT}); got {written!r}")
    return written.rstrip("/")


def parse_admin_username(value: object) -> str:
    """The new VM's first login (M-4): 1-64 letters, digits, ``_ -``, not one of Azure's disallowed names."""
    written = text(not_todo(value, "name the new VM's admin user (M-4)"), "an admin user name")
    if not _ADMIN_USERNAME.match(written):
        raise ValueError(
            f"an admin user name has 1-64 letters, digits, '_' and '-' and starts with a letter or '_'; got {written!r}"
        )
    if written.lower() in RESERVED_ADMIN_USERNAMES:
        raise ValueError(f"Azure does not allow {written!r} as the admin user name; choose another")
    return written


def parse_ssh_public_key(value: object) -> str:
    """An OpenSSH public key on one line, ``ssh-rsa`` or ``ssh-ed25519`` (what Azure accepts); not a secret."""
    written = text(
        not_todo(value, "give the admin user's SSH public key (M-4), the line from ~/.ssh/id_ed25519.pub"),
        "an SSH public key",
    )
    if not _SSH_PUBLIC_KEY.match(written):
        shown = written if len(written) <= 40 else written[:37] + "..."
        raise ValueError(
            f"expected an OpenSSH public key line 'ssh-ed25519 AAAA... comment' or 'ssh-rsa ...'; got {shown!r}"
        )
    return written
