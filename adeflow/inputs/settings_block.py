"""The per-VM settings block that manifests and campaign files share: ``defaults``, a VM's or a selector's keys.

A VM's settings are the defaults with its own keys on top; each key replaces the default as a whole (``kek``,
``backup_waiver`` and ``confirmations`` are not merged item by item). Rules that span keys (R-BAK-2 waivers,
R-EFA-1/2/4 for EncryptFormatAll, a Key Vault for every VM per R-ENA-3) are checked on the merged settings and
reported where the most specific key involved was written. A waiver only travels with VMs whose backup is
``waive``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import AfterValidator, PlainValidator

from adeflow.domain import values
from adeflow.domain.fleet import VmSettings
from adeflow.domain.model import BackupPolicy, BackupWaiver, KeyEncryptionKey, RestartPolicy, VolumeType
from adeflow.domain.rules import FORMAT_ALL_ACKNOWLEDGEMENT
from adeflow.inputs.validation import Checked, Strict, What, check
from adeflow.inputs.yaml_nodes import At

SETTING_KEYS: Final = (
    "key_vault_id",
    "kek",
    "key_encryption_algorithm",
    "volume_type",
    "backup",
    "backup_waiver",
    "restart",
    "encrypt_format_all",
    "acknowledge_data_loss",
    "confirmations",
)

MIGRATION_SETTING_KEYS: Final = ("backup", "backup_waiver")
"""The settings a migration manifest takes: the R-BAK-2 gate before the M-3 disable. The others set ADE up."""


@dataclass(frozen=True)
class Purpose:
    """What a fleet file is for: which settings keys apply, whether every VM needs a Key Vault, whether entries may
    carry ``migrate`` settings."""

    name: str
    keys: tuple[str, ...]
    vault_required: bool
    migrate: bool
    other_keys: str = ""
    """Why a settings key outside ``keys`` is refused."""


ROLLOUT: Final = Purpose("rollout", SETTING_KEYS, vault_required=True, migrate=False)
MIGRATION: Final = Purpose(
    "migration",
    MIGRATION_SETTING_KEYS,
    vault_required=False,
    migrate=True,
    other_keys="does not apply to a migration manifest: it sets ADE up, and a migration moves VMs off ADE; "
    "remove it (a migration manifest takes backup, backup_waiver and migrate)",
)


VaultId = Annotated[str, PlainValidator(values.parse_vault_id)]
SubscriptionId = Annotated[str, PlainValidator(values.parse_subscription_id)]
ResourceGroup = Annotated[str, PlainValidator(lambda v: values.parse_name_segment(v, "a resource group name"))]


def _statement(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string; got {values.kind_of(value)}")
    if not value.strip():
        raise ValueError("must not be empty: a waiver is a recorded statement (R-BAK-2)")
    return value.strip()


def _any_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string; got {values.kind_of(value)}")
    return value


def _distinct(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


class KekModel(Strict):
    key_url: Annotated[values.VaultObjectUrl, PlainValidator(values.parse_kek_url)] | None = None
    vault_id: VaultId | None = None


class WaiverModel(Strict):
    operator: Annotated[str, PlainValidator(_statement)] | None = None
    statement: Annotated[str, PlainValidator(_statement)] | None = None


class SettingsFields(Strict):
    """What may be set per fleet, VM or selector (field order = :data:`SETTING_KEYS`, as messages list them)."""

    key_vault_id: VaultId | None = None
    kek: KekModel | None = None
    key_encryption_algorithm: Annotated[str, PlainValidator(values.parse_key_encryption_algorithm)] | None = None
    volume_type: Annotated[VolumeType, PlainValidator(values.parse_volume_type)] | None = None
    backup: Annotated[BackupPolicy, PlainValidator(values.parse_backup_policy)] | None = None
    backup_waiver: WaiverModel | None = None
    restart: Annotated[RestartPolicy, PlainValidator(values.parse_restart_policy)] | None = None
    encrypt_format_all: Annotated[bool, PlainValidator(values.parse_flag)] | None = None
    acknowledge_data_loss: Annotated[str, PlainValidator(_any_text)] | None = None
    confirmations: Annotated[
        list[Annotated[str, PlainValidator(values.parse_confirmation)]] | None,
        What("guest-side confirmations"),
        AfterValidator(lambda names: _distinct(names) if names is not None else None),
    ] = None


INVALID: Final = object()
"""A setting that was given but is wrong (already reported): later checks skip it instead of piling on."""


@dataclass(frozen=True)
class Given:
    """A setting as written: its value (or :data:`INVALID`) and where, so merged problems point at the right line."""

    value: Any
    source: str
    line: int
    field: str
    depth: int
    """0 a defaults document, 1 a file's defaults, 2 a VM or selector: higher is more specific."""


Settings = dict[str, Given]


def read_defaults(at: At, depth: int, purpose: Purpose = ROLLOUT) -> Settings | None:
    """A ``defaults`` block; None if it is not a mapping (reported)."""
    checked = check(SettingsFields, at)
    return None if checked is None else read_settings(checked, at, depth, purpose)


def broken_defaults(at: At) -> Settings:
    """Unreadable defaults: every setting counts as given-but-invalid, so VMs do not each report it."""
    return dict.fromkeys(SETTING_KEYS, Given(INVALID, at.doc.source, at.line(), at.field, 1))


def read_settings(checked: Checked[Any], at: At, depth: int, purpose: Purpose = ROLLOUT) -> Settings:
    """The settings keys of a checked section (defaults, a VM or a selector) as :class:`Given` values; a key
    that does not apply to the file's purpose is reported."""
    settings: Settings = {}
    for key in SETTING_KEYS:
        if key not in checked.given:
            continue
        place = at.child(key)
        if key not in purpose.keys:
            place.report(purpose.other_keys, key=True)
            continue
        wrong = key in checked.invalid
        value: Any = INVALID if wrong else getattr(checked.model, key)
        if key == "kek":
            value = _kek(place, None if wrong else checked.model.kek)
        elif key == "backup_waiver":
            value = _waiver(place, None if wrong else checked.model.backup_waiver)
        settings[key] = Given(value, at.doc.source, place.line(), place.field, depth)
    return settings


def _kek(at: At, model: KekModel | None) -> object:
    raw = at.raw
    missing = [k for k in ("key_url", "vault_id") if isinstance(raw, dict) and raw.get(k) is None]
    if missing:
        at.report(
            f"missing {' and '.join(missing)}: a KEK needs key_url ({values.KEK_URL_FORMAT}) and vault_id (R-ENA-3)"
        )
    if model is None or model.key_url is None or model.vault_id is None:
        return INVALID
    try:
        values.check_same_vault(model.key_url, model.vault_id)
    except ValueError as exc:
        at.child("key_url").report(str(exc))
        return INVALID
    return KeyEncryptionKey(key_url=model.key_url.url, vault_id=model.vault_id)


def _waiver(at: At, model: WaiverModel | None) -> object:
    raw = at.raw
    for key in ("operator", "statement"):
        if isinstance(raw, dict) and raw.get(key) is None:
            at.child(key).report(
                "missing: a backup waiver needs the operator's name and a statement of where the backup is (R-BAK-2)",
                at=at,
            )
    if model is None or model.operator is None or model.statement is None:
        return INVALID
    return BackupWaiver(operator=model.operator, statement=model.statement)


def gives_vault(at: At) -> bool:
    raw = at.raw
    return isinstance(raw, dict) and raw.get("key_vault_id") is not None


def collapse_missing_vault(defaults: Settings, entries: list[At], at: At) -> Settings:
    """No vault anywhere: one problem at the defaults (or the file) instead of one per VM (R-ENA-3)."""
    if "key_vault_id" in defaults or any(gives_vault(entry) for entry in entries):
        return defaults
    field = "defaults.key_vault_id"
    at.doc.problems.add(
        at.doc.source, at.line(), field, f"no Key Vault: set {field} ({values.VAULT_ID_FORMAT}) (R-ENA-3)"
    )
    return {**defaults, "key_vault_id": Given(INVALID, at.doc.source, at.line(), field, 1)}


def resolve(given: Settings, at: At, purpose: Purpose = ROLLOUT) -> VmSettings | None:
    """Defaults + overrides -> VmSettings; checks rules that span keys, at the most specific place involved."""

    def value(key: str) -> Any:
        item = given.get(key)
        return None if item is None else item.value

    def report(keys: tuple[str, ...], message: str) -> None:
        involved = [given[k] for k in keys if k in given]
        if not involved:
            at.child(keys[0]).report(message, at=at)
            return
        spot = max(involved, key=lambda g: g.depth)
        at.doc.problems.add(spot.source, spot.line, spot.field, message)

    ok = all(item.value is not INVALID for item in given.values())
    if "key_vault_id" not in given and purpose.vault_required:
        ok = False
        at.child("key_vault_id").report(
            f"no Key Vault: give key_vault_id for this VM or in the defaults ({values.VAULT_ID_FORMAT}) (R-ENA-3)",
            at=at,
        )
    backup = value("backup")
    if backup is BackupPolicy.WAIVE and "backup_waiver" not in given:
        ok = False
        report(
            ("backup",),
            "backup is waive but no backup_waiver {operator, statement} is given: skipping the backup needs "
            "an operator's recorded statement that one exists (R-BAK-2)",
        )
    if value("encrypt_format_all") is True:
        volume_type = value("volume_type")
        if volume_type is not INVALID and volume_type is not VolumeType.DATA:
            ok = False
            shown = volume_type.value if isinstance(volume_type, VolumeType) else "not set"
            report(
                ("volume_type", "encrypt_format_all"),
                f"encrypt_format_all needs volume_type Data (R-EFA-4: EncryptFormatAll is documented for "
                f"data volumes only); volume_type is {shown}",
            )
        ack = value("acknowledge_data_loss")
        if ack is not INVALID and ack != FORMAT_ALL_ACKNOWLEDGEMENT:
            ok = False
            report(
                ("acknowledge_data_loss", "encrypt_format_all"),
                "encrypt_format_all formats qualifying data disks and ALL DATA ON THEM IS LOST (R-EFA-1, "
                f'R-EFA-2): set acknowledge_data_loss to exactly "{FORMAT_ALL_ACKNOWLEDGEMENT}"',
            )
    if not ok:
        return None
    backup_policy = backup or BackupPolicy.AUTO
    return VmSettings(
        key_vault_id=value("key_vault_id") or "",
        kek=value("kek"),
        key_encryption_algorithm=value("key_encryption_algorithm") or "RSA-OAEP",
        volume_type=value("volume_type"),
        backup=backup_policy,
        backup_waiver=value("backup_waiver") if backup_policy is BackupPolicy.WAIVE else None,
        restart=value("restart") or RestartPolicy.ASK,
        encrypt_format_all=bool(value("encrypt_format_all")),
        acknowledge_data_loss=value("acknowledge_data_loss") or "",
        confirmations=value("confirmations") or (),
    )
