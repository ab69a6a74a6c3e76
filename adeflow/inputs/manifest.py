"""Fleet manifests: which VMs to encrypt, with which keys and policies, and how fast.

A manifest is a YAML file (or a CSV of plain VM lists). It is validated completely before anything starts:
every problem is reported at once as ``file:line: field: message`` (:class:`ManifestError`), and the CLI exits
with code 2 (docs/original-design.md §1, §7). The JSON Schema in ``adeflow/inputs/schemas/manifest.schema.json``
describes the same YAML format for editors and rejects the same malformed values; this module is the authority (it
also checks rules that span objects). Values are parsed by :mod:`adeflow.domain.values`, the same validators the
CLI and campaign files use; sections by the pydantic models of :mod:`adeflow.inputs.settings_block` and
:mod:`adeflow.inputs.fleet_entries`.

A migration manifest (:func:`load_migration_manifest`, docs/ade-migration.md) is the same format with a top-level
``migrate`` section (:mod:`adeflow.inputs.migrate_block`): VMs and selectors may carry their own ``migrate``, no Key
Vault is needed, and ADE's own settings are refused (only ``backup``/``backup_waiver`` apply, for the R-BAK-2 gate
before the M-3 disable). Each loader refuses the other kind of file with one line saying which command takes it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from adeflow.domain import values
from adeflow.domain.fleet import Manifest, ResolvedVm, RolloutPolicy, Selector
from adeflow.domain.migration.fleet import MigrationManifest, MigrationSelector, MigrationVm
from adeflow.domain.model import BackupPolicy, RestartPolicy
from adeflow.domain.rules import FORMAT_ALL_ACKNOWLEDGEMENT, GUEST_CHECKS, GuestCheck
from adeflow.inputs.fleet_entries import (
    MAX_CONCURRENCY,
    Positive,
    read_rollout,
    read_selector_entries,
    read_vm_entries,
    read_vms,
    rollout_policy,
)
from adeflow.inputs.migrate_block import broken_migrate, entry_migrate, read_migrate, resolve_migration
from adeflow.inputs.problems import ManifestError, ManifestProblem, Problems
from adeflow.inputs.settings_block import (
    MIGRATION,
    ROLLOUT,
    SETTING_KEYS,
    Given,
    Purpose,
    Settings,
    broken_defaults,
    collapse_missing_vault,
    read_defaults,
)
from adeflow.inputs.validation import Strict, What, check
from adeflow.inputs.yaml_nodes import At, Doc, doc_from_mapping, given, load_yaml

__all__ = [
    "DATA_LOSS_ACKNOWLEDGEMENT",
    "GUEST_CONFIRMATIONS",
    "KEY_ENCRYPTION_ALGORITHMS",
    "MAX_CONCURRENCY",
    "SCHEMA_PATH",
    "SETTING_KEYS",
    "BackupPolicy",
    "ManifestError",
    "ManifestProblem",
    "RestartPolicy",
    "load_manifest",
    "load_migration_manifest",
    "parse_manifest_text",
    "parse_migration_manifest_text",
    "read_text",
]

GUEST_CONFIRMATIONS: Final[Mapping[str, GuestCheck]] = GUEST_CHECKS
"""Guest-side checks an operator may confirm (name -> rule id + description); the one vocabulary, from rules."""

DATA_LOSS_ACKNOWLEDGEMENT: Final = FORMAT_ALL_ACKNOWLEDGEMENT
"""The exact ``acknowledge_data_loss`` text that EncryptFormatAll needs (R-EFA-1/2)."""

KEY_ENCRYPTION_ALGORITHMS: Final = values.KEY_ENCRYPTION_ALGORITHMS

SCHEMA_PATH: Final = Path(__file__).parent / "schemas" / "manifest.schema.json"

_CSV_COLUMNS = ("id", "subscription", "resource_group", "name", "volume_type", "key_vault_id", "backup")


class ManifestFile(Strict):
    """The top level of a YAML manifest; each section is checked by its own model."""

    version: Positive | None = None
    rollout: Any = None
    defaults: Any = None
    vms: Annotated[list[Any] | None, What("VMs")] = None
    selectors: Annotated[list[Any] | None, What("selectors")] = None
    migrate: Any = None
    """Only in a migration manifest (:func:`load_migration_manifest`)."""


class DefaultsDocument(Strict):
    version: Positive | None = None
    rollout: Any = None
    defaults: Any = None


# ---------------------------------------------------------------------------------------------------- entry points


def load_manifest(
    path: str | os.PathLike[str], *, defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None
) -> Manifest:
    """Read a ``.yaml``/``.yml`` or ``.csv`` manifest; raise :class:`ManifestError` listing every problem."""
    source = str(path)
    suffix = Path(path).suffix.lower()
    fmt: Literal["yaml", "csv"]
    if suffix in (".yaml", ".yml"):
        fmt = "yaml"
    elif suffix == ".csv":
        fmt = "csv"
    else:
        raise ManifestError([ManifestProblem(source, 0, "", "unsupported file type: expected .yaml, .yml or .csv")])
    return parse_manifest_text(read_text(path), source=source, fmt=fmt, defaults=defaults)


def parse_manifest_text(
    text: str,
    source: str = "<manifest>",
    fmt: Literal["yaml", "csv"] = "yaml",
    *,
    defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> Manifest:
    """Validate a manifest given as text; raise :class:`ManifestError` listing every problem."""
    problems = Problems()
    base_rollout: dict[str, Given] = {}
    base_defaults: Settings = {}
    if defaults is not None:
        base_rollout, base_defaults = _defaults_document(defaults, problems)
    if fmt == "csv":
        manifest = _csv_manifest(text, source, problems, base_rollout, base_defaults)
    else:
        manifest = _yaml_manifest(text, source, problems, base_rollout, base_defaults)
    if problems or manifest is None:
        raise ManifestError(problems.sorted())
    return manifest


def load_migration_manifest(path: str | os.PathLike[str]) -> MigrationManifest:
    """Read a YAML migration manifest (one with a ``migrate`` section); raise :class:`ManifestError` listing every
    problem (a ``TODO`` that ``adeflow migrate plan`` left is one of them)."""
    source = str(path)
    if Path(path).suffix.lower() not in (".yaml", ".yml"):
        raise ManifestError(
            [ManifestProblem(source, 0, "", "unsupported file type: a migration manifest is .yaml or .yml")]
        )
    return parse_migration_manifest_text(read_text(path), source=source)


def parse_migration_manifest_text(text: str, source: str = "<manifest>") -> MigrationManifest:
    """Validate a migration manifest given as text; raise :class:`ManifestError` listing every problem."""
    problems = Problems()
    manifest = _yaml_migration(text, source, problems)
    if problems or manifest is None:
        raise ManifestError(problems.sorted())
    return manifest


def read_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ManifestError([ManifestProblem(str(path), 0, "", f"cannot read: {error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        raise ManifestError([ManifestProblem(str(path), 0, "", f"not UTF-8 text: {error.reason}")]) from None


# ---------------------------------------------------------------------------------------------------- documents


def _defaults_document(
    defaults: Mapping[str, Any] | str | os.PathLike[str], problems: Problems
) -> tuple[dict[str, Given], Settings]:
    if isinstance(defaults, Mapping):
        doc: Doc | None = doc_from_mapping(defaults, "<defaults>", problems)
    else:
        try:
            text = read_text(defaults)
        except ManifestError as error:
            problems.extend(error.problems)
            return {}, {}
        doc = load_yaml(text, str(defaults), problems)
    if doc is None or doc.root is None:
        return {}, {}
    root = At(doc)
    if isinstance(doc.root, dict) and {"rollout", "defaults"} & set(doc.root):
        top = check(DefaultsDocument, root)
        sections = given(doc.root) if top else {}
        rollout = read_rollout(root.child("rollout")) if "rollout" in sections else {}
        settings = read_defaults(root.child("defaults"), 0) or {} if "defaults" in sections else {}
        return rollout, settings
    return {}, read_defaults(At(doc, (), ("defaults",)), 0) or {}


@dataclass(frozen=True)
class _Fleet:
    """What rollout and migration manifests share: the policy and the entries, each with its place."""

    root: At
    rollout: RolloutPolicy
    vm_entries: list[At]
    selector_entries: list[At]
    vms: list[tuple[At, ResolvedVm]]
    selectors: list[tuple[At, Selector]]


def _yaml_fleet(
    text: str,
    source: str,
    problems: Problems,
    base_rollout: dict[str, Given],
    base_defaults: Settings,
    purpose: Purpose,
) -> _Fleet | None:
    doc = load_yaml(text, source, problems)
    if doc is None:
        return None
    root = At(doc)
    if doc.empty:
        if not problems.about(source):
            problems.add(source, 1, "", "the manifest is empty: list VMs under vms or add selectors")
        return None
    top = check(ManifestFile, root)
    if top is None:
        return None
    sections = given(doc.root)
    if "migrate" in sections and not purpose.migrate:
        root.child("migrate").report(
            "a manifest with a migrate section is a migration manifest, run by adeflow migrate; ADE rollouts and "
            "campaigns take a manifest without one",
            key=True,
        )
        return None
    if "migrate" not in sections and purpose.migrate:
        root.report(
            "not a migration manifest: add a top-level migrate section (migrate: {} takes every default; "
            "docs/ade-migration.md)",
        )
        return None
    if top.ok("version") and top.model.version != 1:
        root.child("version").report(f"unsupported manifest version {top.model.version}; this adeflow reads version 1")
    rollout_given = dict(base_rollout)
    if "rollout" in sections:
        rollout_given.update(read_rollout(root.child("rollout")))
    rollout = rollout_policy(rollout_given, root)
    defaults = dict(base_defaults)
    defaults_at = root.child("defaults") if "defaults" in sections else root
    if "defaults" in sections:
        defaults.update(read_defaults(defaults_at, 1, purpose) or broken_defaults(defaults_at))
    vms = _entries(root.child("vms"), top.ok("vms"))
    selectors = _entries(root.child("selectors"), top.ok("selectors"))
    if not vms and not selectors:
        at = root.child("vms")
        at.report("no VMs: list VMs under vms or add selectors", key=True, at=at if "vms" in doc.root else root)
        return None
    if purpose.vault_required:
        defaults = collapse_missing_vault(defaults, vms + selectors, defaults_at)
    return _Fleet(
        root,
        rollout,
        vms,
        selectors,
        read_vm_entries(vms, defaults, purpose),
        read_selector_entries(selectors, defaults, purpose),
    )


def _yaml_manifest(
    text: str, source: str, problems: Problems, base_rollout: dict[str, Given], base_defaults: Settings
) -> Manifest | None:
    fleet = _yaml_fleet(text, source, problems, base_rollout, base_defaults, ROLLOUT)
    if fleet is None:
        return None
    return Manifest(source, fleet.rollout, [vm for _, vm in fleet.vms], [s for _, s in fleet.selectors])


def _yaml_migration(text: str, source: str, problems: Problems) -> MigrationManifest | None:
    fleet = _yaml_fleet(text, source, problems, {}, {}, MIGRATION)
    if fleet is None:
        return None
    at = fleet.root.child("migrate")
    fleet_migrate = read_migrate(at, 1, one_vm=False)
    if fleet_migrate is None:
        fleet_migrate = broken_migrate(at)
    own = {e.loc: entry_migrate(e, one_vm=True) for e in fleet.vm_entries}
    own |= {e.loc: entry_migrate(e, one_vm=False) for e in fleet.selector_entries}
    vms = [
        MigrationVm(vm, settings)
        for place, vm in fleet.vms
        if (settings := resolve_migration({**fleet_migrate, **own[place.loc]}, place, vm.ref)) is not None
    ]
    selectors = [
        MigrationSelector(selector, settings)
        for place, selector in fleet.selectors
        if (settings := resolve_migration({**fleet_migrate, **own[place.loc]}, place, None)) is not None
    ]
    return MigrationManifest(source, fleet.rollout, vms, selectors)


def _entries(at: At, ok: bool) -> list[At]:
    return [at.child(i) for i in range(len(at.raw))] if ok else []


def _csv_manifest(
    text: str, source: str, problems: Problems, base_rollout: dict[str, Given], base_defaults: Settings
) -> Manifest | None:
    doc = Doc(source, problems, {"vms": []}, empty=False)
    rollout = rollout_policy(base_rollout, At(doc))
    try:
        rows = list(_csv_rows(text))
    except csv.Error as exc:  # e.g. a NUL byte: not a CSV file at all
        problems.add(source, 1, "", f"not a readable CSV file: {exc}")
        return None
    if not rows:
        problems.add(
            source, 1, "", "the manifest is empty: expected a header row (id, or subscription,resource_group,name)"
        )
        return None
    header_line, header = rows[0]
    columns = [cell.strip().lower() for cell in header]
    ok = True
    for i, column in enumerate(columns):
        if column not in _CSV_COLUMNS:
            ok = False
            hint = values.suggest(column, _CSV_COLUMNS)
            problems.add(
                source,
                header_line,
                f"columns[{i}]",
                f'unknown column "{column}"; {hint}allowed columns: {", ".join(_CSV_COLUMNS)}',
            )
        elif columns.index(column) != i:
            ok = False
            problems.add(source, header_line, f"columns[{i}]", f'duplicate column "{column}"')
    if "id" not in columns and not all(c in columns for c in ("subscription", "resource_group", "name")):
        found = ", ".join(columns) or "nothing"
        problems.add(
            source,
            header_line,
            "columns",
            f"missing columns: give id, or subscription, resource_group and name; found {found}",
        )
        ok = False
    if not ok:
        return None
    if len(rows) == 1:
        problems.add(source, header_line, "vms", "no VMs: the CSV has a header but no rows")
        return None
    entries: list[At] = []
    for index, (line, cells) in enumerate(rows[1:]):
        doc.root["vms"].append({c: cell.strip() for c, cell in zip(columns, cells, strict=False) if cell.strip()})
        at = At(doc).child("vms").child(index)
        doc.lines[at.loc] = line
        if len(cells) > len(columns):
            at.report(f"row has {len(cells)} cells but the header has {len(columns)} columns")
            continue
        entries.append(at)
    doc.lines[("vms",)] = header_line
    defaults = collapse_missing_vault(base_defaults, entries, At(doc).child("vms"))
    return Manifest(source, rollout, read_vms(entries, defaults), [])


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on; blank rows and ``#`` comment rows skipped."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))  # csv handles \r, \n and \r\n itself
    start = 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        yield line, cells
