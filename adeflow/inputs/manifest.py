"""Fleet manifests: which VMs to encrypt, with which keys and policies, and how fast.

A manifest is a YAML file (or a CSV of plain VM lists). It is validated completely before anything starts:
every problem is reported at once as ``file:line: field: message`` (:class:`ManifestError`), and the CLI exits
with code 2 (docs/original-design.md §1, §7). The JSON Schema in ``adeflow/inputs/schemas/manifest.schema.json``
describes the same YAML format for editors; this module is the authority (it also checks rules that span objects).

YAML format (every section except ``vms``/``selectors`` is optional; ``null`` or an omitted key means default)::

    version: 1                        # optional; the only version so far
    rollout:
      name: eu-web-2026-12            # part of the rollout id: letters, digits, . _ - (max 63); "" = CLI names it
      concurrency: 50                 # VMs in flight overall (1..1000)
      per_subscription_concurrency: 20
      canary: 1                       # VMs per subscription in the canary wave, which must fully succeed
      waves: [5, 25, 100]             # wave sizes after the canary; the last size repeats
      failure_budget: 5%              # a percentage of the fleet or a count (0 = halt at the first failure)
      poll_interval: 5m               # durations: 30s, 5m, 2h, 1d, 1h30m, or seconds as a number
      encryption_deadline: 72h
    defaults:                         # settings for every VM; a VM or selector overrides them key by key
      key_vault_id: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>
      kek: {key_url: "https://<vault>.vault.azure.net/keys/<name>/<version>", vault_id: <Key Vault id>}
      key_encryption_algorithm: RSA-OAEP        # RSA-OAEP | RSA-OAEP-256 | RSA1_5
      volume_type: All                          # OS | Data | All (any case); omitted = decided per VM
      backup: auto                              # auto | snapshot | azure-backup | waive
      backup_waiver: {operator: alice, statement: "nightly Veeam copy, job 42"}   # needed by waive (R-BAK-2)
      restart: ask                              # auto | ask | never
      encrypt_format_all: false                 # true needs volume_type Data (R-EFA-4) and the acknowledgement
      acknowledge_data_loss: "I understand data on qualifying data disks will be erased"   # exactly (R-EFA-1/2)
      confirmations: [no-nested-mounts, no-kdump]   # guest-side checks the operator vouches for
    vms:
      - /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/web-01
      - {id: /subscriptions/<sub>/.../virtualMachines/db-01, volume_type: Data, backup: azure-backup}
      - {subscription: <sub>, resource_group: rg-web, name: web-02, key_vault_id: <Key Vault id>}
    selectors:                        # VMs found at run time; each may override settings like a VM
      - {subscription: <sub>, resource_group: rg-web, tags: {env: prod, ade: "yes"}}
      - {resource_graph: "Resources | where type =~ 'microsoft.compute/virtualmachines'", subscriptions: [<sub>]}

Merging: a VM's settings are ``defaults`` with the VM's own keys on top; each key replaces the default as a
whole (``kek``, ``backup_waiver`` and ``confirmations`` are not merged item by item). A waiver only travels
with VMs whose backup policy is ``waive``. ``confirmations`` names come from :data:`GUEST_CONFIRMATIONS`.

CSV format: a header row, then one VM per row. Columns: ``id``, or ``subscription,resource_group,name``; and
optionally ``volume_type,key_vault_id,backup`` (an empty cell means the default). Blank rows and rows whose
first cell starts with ``#`` are skipped. Defaults (and a rollout policy) come from a companion document.

Defaults document (``defaults=`` of :func:`load_manifest` / :func:`parse_manifest_text`, for YAML and CSV): a
mapping, or the path of a YAML file holding one, that is either the settings themselves (what goes under
``defaults:``) or has ``rollout:`` and/or ``defaults:`` sections. A manifest's own ``defaults`` win over it.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark, MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from adeflow.domain.fleet import FailureBudget, Manifest, ResolvedVm, RolloutPolicy, Selector, VmSettings
from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    KeyEncryptionKey,
    RestartPolicy,
    VmRef,
    VolumeType,
)
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.rules import FORMAT_ALL_ACKNOWLEDGEMENT, GUEST_CHECKS, GuestCheck

__all__ = [
    "DATA_LOSS_ACKNOWLEDGEMENT",
    "GUEST_CONFIRMATIONS",
    "KEY_ENCRYPTION_ALGORITHMS",
    "SCHEMA_PATH",
    "BackupPolicy",
    "ManifestError",
    "ManifestProblem",
    "RestartPolicy",
    "load_manifest",
    "parse_manifest_text",
]

GUEST_CONFIRMATIONS: Final[Mapping[str, GuestCheck]] = GUEST_CHECKS
"""Guest-side checks an operator may confirm (name -> rule id + description); the one vocabulary, from rules."""

DATA_LOSS_ACKNOWLEDGEMENT: Final = FORMAT_ALL_ACKNOWLEDGEMENT
"""The exact ``acknowledge_data_loss`` text that EncryptFormatAll needs (R-EFA-1/2)."""

KEY_ENCRYPTION_ALGORITHMS: Final = ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5")

SCHEMA_PATH: Final = Path(__file__).parent / "schemas" / "manifest.schema.json"

MAX_CONCURRENCY: Final = 1000
"""Running children per fleet workflow; Temporal caps pending children at 2,000 (docs/original-design.md §4 fan-out)."""

_VM_TYPE = "microsoft.compute/virtualmachines"
_VAULT_TYPE = "microsoft.keyvault/vaults"
_VM_ID_FORMAT = "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>"
_VAULT_ID_FORMAT = "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>"
_KEK_URL_FORMAT = "https://<vault>.vault.azure.net/keys/<name>/<version>"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_KEK_URL = re.compile(
    r"^https://(?P<vault>[a-z0-9-]{3,24})\.(?P<suffix>[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
    r"/keys/(?P<name>[a-z0-9-]{1,127})/(?P<version>[a-z0-9]+)$",
    re.IGNORECASE,
)
_ROLLOUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
_NAME_SEGMENT = re.compile(r"^[^/\s]+$")

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"

_TOP_KEYS = ("version", "rollout", "defaults", "vms", "selectors")
_ROLLOUT_KEYS = (
    "name",
    "concurrency",
    "per_subscription_concurrency",
    "canary",
    "waves",
    "failure_budget",
    "poll_interval",
    "encryption_deadline",
)
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
_VM_KEYS = ("id", "subscription", "resource_group", "name", *SETTING_KEYS)
_SELECTOR_KEYS = ("subscription", "resource_group", "tags", "resource_graph", "subscriptions", *SETTING_KEYS)
_CSV_COLUMNS = ("id", "subscription", "resource_group", "name", "volume_type", "key_vault_id", "backup")


# ---------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ManifestProblem:
    """One thing wrong with a manifest, located as precisely as the input allows."""

    source: str
    line: int
    """1-based; 0 when the input has no lines (a defaults mapping given in code)."""
    field: str
    """Dotted path such as ``vms[3].volume_type``; empty for file-level problems (YAML syntax)."""
    message: str

    def render(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ManifestError(Exception):
    """A manifest that must not start anything; ``problems`` lists everything wrong with it."""

    exit_code: Final = 2

    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(problem.render() for problem in problems))


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
    return parse_manifest_text(_read(path), source=source, fmt=fmt, defaults=defaults)


def parse_manifest_text(
    text: str,
    source: str = "<manifest>",
    fmt: Literal["yaml", "csv"] = "yaml",
    *,
    defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> Manifest:
    """Validate a manifest given as text; raise :class:`ManifestError` listing every problem."""
    parser = _Parser()
    base_rollout: dict[str, _Given] = {}
    base_defaults: _Settings = {}
    if defaults is not None:
        base_rollout, base_defaults = parser.defaults_document(defaults)
    if fmt == "csv":
        manifest = parser.csv_manifest(text, source, base_rollout, base_defaults)
    else:
        manifest = parser.yaml_manifest(text, source, base_rollout, base_defaults)
    if parser.problems:
        raise ManifestError(parser.sorted_problems())
    assert manifest is not None
    return manifest


def _read(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ManifestError([ManifestProblem(str(path), 0, "", f"cannot read: {error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        raise ManifestError([ManifestProblem(str(path), 0, "", f"not UTF-8 text: {error.reason}")]) from None


# ---------------------------------------------------------------------------------------------------- parsing

_INVALID: Final = object()
"""A setting that was given but is wrong (already reported): later checks skip it instead of piling on."""


@dataclass(frozen=True)
class _Given:
    """A setting as written: its value (or ``_INVALID``) and where, so merged problems point at the right line."""

    value: Any
    source: str
    line: int
    field: str
    depth: int
    """0 defaults document, 1 manifest defaults, 2 a VM or selector: higher is more specific."""


_Settings = dict[str, _Given]


def _line(node: Node | None) -> int:
    if node is None or node.start_mark is None:
        return 0
    return int(node.start_mark.line) + 1


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {
        _STR: "a string",
        _INT: "a number",
        _FLOAT: "a number",
        _BOOL: "true/false",
        _NULL: "nothing (null)",
    }.get(node.tag, f"a {node.tag.rsplit(':', 1)[-1]}")


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    match = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not match:
        return ""
    original = next(c for c in choices if c.lower() == match[0])
    return f'did you mean "{original}"? '


class _Parser:
    def __init__(self) -> None:
        self.problems: list[ManifestProblem] = []
        self._seen: set[ManifestProblem] = set()
        self._source = "<manifest>"
        self._constructor = SafeConstructor()

    # -- problems

    def problem(self, at: Node | int | None, path: str, message: str, source: str | None = None) -> None:
        line = at if isinstance(at, int) else _line(at)
        item = ManifestProblem(source or self._source, line, path, message)
        if item not in self._seen:
            self._seen.add(item)
            self.problems.append(item)

    def sorted_problems(self) -> list[ManifestProblem]:
        order = {source: i for i, source in enumerate(dict.fromkeys(p.source for p in self.problems))}
        return sorted(self.problems, key=lambda p: (order[p.source], p.line))

    # -- YAML plumbing

    def compose(self, text: str, source: str) -> Node | None:
        self._source = source
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            detail = error.problem or "malformed YAML"
            if error.context:
                detail = f"{detail} ({error.context}"
                detail += f" at line {error.context_mark.line + 1})" if error.context_mark else ")"
            self.problem(_mark_line(mark), "", f"YAML syntax error: {detail}")
        except yaml.YAMLError as error:
            position = getattr(error, "position", None)
            line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 0
            self.problem(line, "", f"YAML syntax error: {str(error).splitlines()[0]}")
        return None

    def mapping(self, node: Node, path: str, allowed: tuple[str, ...]) -> dict[str, tuple[Node, Node]] | None:
        """Keys to (key node, value node); unknown and duplicate keys are reported. None if not a mapping."""
        if not isinstance(node, MappingNode):
            self.problem(node, path, f"expected a mapping with keys {', '.join(allowed)}; got {_kind(node)}")
            return None
        explicit: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None:
                self.problem(key_node, path, f"keys must be plain words; got {_kind(key_node)}")
                continue
            if key in explicit:
                first = _line(explicit[key][0])
                self.problem(key_node, _join(path, key), f"duplicate key (first given at line {first})")
            explicit[key] = (key_node, value_node)
        merged: dict[str, tuple[Node, Node]] = {}
        if any(k.tag == _MERGE for k, _ in node.value):
            flat = MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark)
            try:
                self._constructor.flatten_mapping(flat)
            except MarkedYAMLError as error:
                self.problem(_mark_line(error.problem_mark), path, f"bad merge key: {error.problem}")
            for key_node, value_node in flat.value:
                if isinstance(key_node, ScalarNode) and key_node.value not in explicit:
                    merged[key_node.value] = (key_node, value_node)
        result = {**merged, **explicit}
        for key, (key_node, _) in result.items():
            if key not in allowed:
                hint = _suggest(key, allowed)
                self.problem(
                    key_node, _join(path, key), f'unknown key "{key}"; {hint}allowed keys: {", ".join(allowed)}'
                )
        return {key: pair for key, pair in result.items() if key in allowed}

    def string(self, node: Node, path: str, *, what: str = "a string", required: bool = True) -> str | None:
        """A scalar's text as written (so ``yes``, ``0123`` stay strings); None after reporting a problem."""
        if not isinstance(node, ScalarNode) or node.tag not in (_STR, _INT, _FLOAT, _BOOL):
            self.problem(node, path, f"expected {what}; got {_kind(node)}")
            return None
        text = str(node.value).strip()
        if required and not text:
            self.problem(node, path, f"expected {what}; got an empty string")
            return None
        return text

    def integer(self, node: Node, path: str, *, minimum: int, maximum: int | None = None) -> int | None:
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            self.problem(node, path, f"expected a whole number; got {_kind(node)}")
            return None
        value = int(self._constructor.construct_yaml_int(node))
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.problem(node, path, f"must be {bound}; got {value}")
            return None
        return value

    def boolean(self, node: Node, path: str) -> bool | None:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            self.problem(node, path, f"expected true or false; got {_kind(node)}")
            return None
        return bool(self._constructor.construct_yaml_bool(node))

    def sequence(self, node: Node, path: str, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, path, f"expected a list of {what}; got {_kind(node)}")
            return None
        return list(node.value)

    # -- ids

    def subscription(self, node: Node, path: str) -> str | None:
        text = self.string(node, path, what="a subscription id (a GUID)")
        if text is not None and not _GUID.match(text):
            self.problem(
                node, path, f"subscription must be a GUID like 00000000-0000-0000-0000-000000000000; got {text!r}"
            )
            return None
        return text

    def name_segment(self, node: Node, path: str, what: str) -> str | None:
        text = self.string(node, path, what=what)
        if text is not None and not _NAME_SEGMENT.match(text):
            self.problem(node, path, f"{what} must not contain '/' or spaces; got {text!r}")
            return None
        return text

    def vm_id(self, node: Node, path: str) -> VmRef | None:
        text = self.string(node, path, what=f"a VM resource id ({_VM_ID_FORMAT})")
        if text is None:
            return None
        try:
            parsed = parse_resource_id(text)
        except ValueError:
            self.problem(node, path, f"malformed VM resource id {text!r}: expected {_VM_ID_FORMAT}")
            return None
        if parsed.provider_type.lower() != _VM_TYPE:
            self.problem(node, path, f"{text!r} is a {parsed.provider_type} id; expected a VM id ({_VM_ID_FORMAT})")
            return None
        if not _GUID.match(parsed.subscription_id):
            self.problem(node, path, f"subscription {parsed.subscription_id!r} in {text!r} is not a GUID")
            return None
        return VmRef(parsed.subscription_id, parsed.resource_group, parsed.name)

    def vault_id(self, node: Node, path: str) -> str | None:
        text = self.string(node, path, what=f"a Key Vault resource id ({_VAULT_ID_FORMAT})")
        if text is None:
            return None
        try:
            parsed = parse_resource_id(text)
        except ValueError:
            self.problem(node, path, f"malformed Key Vault resource id {text!r}: expected {_VAULT_ID_FORMAT} (R-ENA-3)")
            return None
        if parsed.provider_type.lower() != _VAULT_TYPE:
            self.problem(
                node,
                path,
                f"{text!r} is a {parsed.provider_type} id; expected a Key Vault id ({_VAULT_ID_FORMAT}) (R-ENA-3)",
            )
            return None
        if not _GUID.match(parsed.subscription_id):
            self.problem(node, path, f"subscription {parsed.subscription_id!r} in {text!r} is not a GUID (R-ENA-3)")
            return None
        return text.rstrip("/")

    # -- settings

    def settings(self, pairs: dict[str, tuple[Node, Node]], path: str, depth: int) -> _Settings:
        given: _Settings = {}
        for key in SETTING_KEYS:
            if key not in pairs or _is_null(pairs[key][1]):
                continue
            node = pairs[key][1]
            where = _join(path, key)
            value = self.setting(key, node, where)
            given[key] = _Given(_INVALID if value is None else value, self._source, _line(node), where, depth)
        return given

    def setting(self, key: str, node: Node, path: str) -> object | None:
        parse: Callable[[Node, str], object | None] = getattr(self, f"_setting_{key}")
        return parse(node, path)

    def _setting_key_vault_id(self, node: Node, path: str) -> object | None:
        return self.vault_id(node, path)

    def _setting_kek(self, node: Node, path: str) -> object | None:
        pairs = self.mapping(node, path, ("key_url", "vault_id"))
        if pairs is None:
            return None
        missing = [k for k in ("key_url", "vault_id") if k not in pairs or _is_null(pairs[k][1])]
        if missing:
            self.problem(
                node,
                path,
                f"missing {' and '.join(missing)}: a KEK needs key_url ({_KEK_URL_FORMAT}) and vault_id (R-ENA-3)",
            )
        url = vault = None
        if "key_url" in pairs and not _is_null(pairs["key_url"][1]):
            url_node = pairs["key_url"][1]
            url = self.string(url_node, _join(path, "key_url"), what=f"a key URL ({_KEK_URL_FORMAT})")
            if url is not None and not _KEK_URL.match(url):
                self.problem(
                    url_node,
                    _join(path, "key_url"),
                    f"malformed KEK URL {url!r}: expected a versioned key URL {_KEK_URL_FORMAT}, no port (R-ENA-3)",
                )
                url = None
        if "vault_id" in pairs and not _is_null(pairs["vault_id"][1]):
            vault = self.vault_id(pairs["vault_id"][1], _join(path, "vault_id"))
        if url is None or vault is None:
            return None
        url_match = _KEK_URL.match(url)
        assert url_match is not None
        vault_name = parse_resource_id(vault).name
        if url_match["vault"].lower() != vault_name.lower():
            self.problem(
                pairs["key_url"][1],
                _join(path, "key_url"),
                f"KEK URL is in vault {url_match['vault']!r} but vault_id names vault {vault_name!r}; "
                "they must be the same vault (R-ENA-3)",
            )
            return None
        return KeyEncryptionKey(key_url=url, vault_id=vault)

    def _setting_key_encryption_algorithm(self, node: Node, path: str) -> object | None:
        return self.enum(node, path, {a.lower(): a for a in KEY_ENCRYPTION_ALGORITHMS})

    def _setting_volume_type(self, node: Node, path: str) -> object | None:
        return self.enum(node, path, {v.value.lower(): v for v in VolumeType})

    def _setting_backup(self, node: Node, path: str) -> object | None:
        return self.enum(node, path, {v.value: v for v in BackupPolicy})

    def _setting_restart(self, node: Node, path: str) -> object | None:
        return self.enum(node, path, {v.value: v for v in RestartPolicy})

    def _setting_backup_waiver(self, node: Node, path: str) -> object | None:
        pairs = self.mapping(node, path, ("operator", "statement"))
        if pairs is None:
            return None
        values: dict[str, str] = {}
        for key in ("operator", "statement"):
            if key not in pairs or _is_null(pairs[key][1]):
                self.problem(
                    node,
                    _join(path, key),
                    "missing: a backup waiver needs the operator's name and a statement of where the backup "
                    "is (R-BAK-2)",
                )
                continue
            text = self.string(pairs[key][1], _join(path, key), required=False)
            if text is not None and not text:
                self.problem(
                    pairs[key][1], _join(path, key), "must not be empty: a waiver is a recorded statement (R-BAK-2)"
                )
            elif text is not None:
                values[key] = text
        if len(values) < 2:
            return None
        return BackupWaiver(operator=values["operator"], statement=values["statement"])

    def _setting_encrypt_format_all(self, node: Node, path: str) -> object | None:
        return self.boolean(node, path)

    def _setting_acknowledge_data_loss(self, node: Node, path: str) -> object | None:
        return self.string(node, path, required=False)

    def _setting_confirmations(self, node: Node, path: str) -> object | None:
        items = self.sequence(node, path, "guest-side confirmations")
        if items is None:
            return None
        names: list[str] = []
        ok = True
        vocabulary = list(GUEST_CONFIRMATIONS)
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            text = self.string(item, where, what="a confirmation name")
            if text is None:
                ok = False
            elif text not in GUEST_CONFIRMATIONS:
                ok = False
                self.problem(
                    item,
                    where,
                    f'unknown confirmation "{text}"; {_suggest(text, vocabulary)}known: {", ".join(vocabulary)}',
                )
            elif text not in names:
                names.append(text)
        return tuple(names) if ok else None

    def enum(self, node: Node, path: str, choices: Mapping[str, object]) -> object | None:
        canonical = [str(v) for v in choices.values()]
        text = self.string(node, path, what=f"one of {', '.join(canonical)}")
        if text is None:
            return None
        value = choices.get(text.lower())
        if value is None:
            self.problem(node, path, f"must be one of {', '.join(canonical)}; {_suggest(text, canonical)}got {text!r}")
        return value

    def resolve(self, given: _Settings, at: Node | int, path: str) -> VmSettings | None:
        """Defaults + overrides -> VmSettings; checks rules that span keys, at the most specific place involved."""

        def value(key: str) -> Any:
            item = given.get(key)
            return None if item is None else item.value

        def report(keys: tuple[str, ...], message: str) -> None:
            involved = [given[k] for k in keys if k in given]
            spot = max(involved, key=lambda g: g.depth) if involved else None
            if spot is None:
                self.problem(at, _join(path, keys[0]), message)
            else:
                self.problem(spot.line, spot.field, message, source=spot.source)

        ok = all(item.value is not _INVALID for item in given.values())
        if "key_vault_id" not in given:
            ok = False
            self.problem(
                at,
                _join(path, "key_vault_id"),
                f"no Key Vault: give key_vault_id for this VM or in the defaults ({_VAULT_ID_FORMAT}) (R-ENA-3)",
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
            if volume_type is not _INVALID and volume_type is not VolumeType.DATA:
                ok = False
                shown = volume_type.value if isinstance(volume_type, VolumeType) else "not set"
                report(
                    ("volume_type", "encrypt_format_all"),
                    f"encrypt_format_all needs volume_type Data (R-EFA-4: EncryptFormatAll is documented for "
                    f"data volumes only); volume_type is {shown}",
                )
            ack = value("acknowledge_data_loss")
            if ack is not _INVALID and ack != DATA_LOSS_ACKNOWLEDGEMENT:
                ok = False
                report(
                    ("acknowledge_data_loss", "encrypt_format_all"),
                    "encrypt_format_all formats qualifying data disks and ALL DATA ON THEM IS LOST (R-EFA-1, "
                    f'R-EFA-2): set acknowledge_data_loss to exactly "{DATA_LOSS_ACKNOWLEDGEMENT}"',
                )
        if not ok:
            return None
        backup_policy = backup or BackupPolicy.AUTO
        return VmSettings(
            key_vault_id=value("key_vault_id"),
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

    # -- rollout

    def rollout_values(self, node: Node) -> dict[str, _Given]:
        """One ``rollout`` section's valid values (problems reported), keyed by RolloutPolicy field."""
        values: dict[str, _Given] = {}
        for key, (_, value_node) in (self.mapping(node, "rollout", _ROLLOUT_KEYS) or {}).items():
            if _is_null(value_node):
                continue
            where = f"rollout.{key}"
            value = self.rollout_value(key, value_node, where)
            name = {"poll_interval": "poll_interval_s", "encryption_deadline": "encryption_deadline_s"}.get(key, key)
            values[name] = _Given(_INVALID if value is None else value, self._source, _line(value_node), where, 0)
        return values

    def rollout(self, values: dict[str, _Given]) -> RolloutPolicy:
        policy = RolloutPolicy(**{k: g.value for k, g in values.items() if g.value is not _INVALID})
        deadline = values.get("encryption_deadline_s")
        if (
            deadline is not None
            and deadline.value is not _INVALID
            and policy.encryption_deadline_s <= policy.poll_interval_s
        ):
            self.problem(
                deadline.line, deadline.field, "must be longer than rollout.poll_interval", source=deadline.source
            )
        return policy

    def rollout_value(self, key: str, node: Node, path: str) -> object | None:
        if key == "name":
            text = self.string(node, path, what="a rollout name")
            if text is not None and not _ROLLOUT_NAME.match(text):
                self.problem(
                    node,
                    path,
                    "use letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit); "
                    f"got {text!r}",
                )
                return None
            return text
        if key in ("concurrency", "per_subscription_concurrency", "canary"):
            return self.integer(node, path, minimum=1, maximum=MAX_CONCURRENCY if key != "canary" else None)
        if key == "waves":
            items = self.sequence(node, path, "wave sizes")
            if items is None:
                return None
            if not items:
                self.problem(node, path, "give at least one wave size, e.g. [5, 25, 100]")
                return None
            sizes = [self.integer(item, f"{path}[{i}]", minimum=1) for i, item in enumerate(items)]
            return None if None in sizes else tuple(s for s in sizes if s is not None)
        if key == "failure_budget":
            return self.failure_budget(node, path)
        return self.duration(node, path)

    def failure_budget(self, node: Node, path: str) -> FailureBudget | None:
        expected = "a count (3) or a percentage (5%)"
        if isinstance(node, ScalarNode) and node.tag == _INT:
            count = self.integer(node, path, minimum=0)
            return None if count is None else FailureBudget(count=count)
        if isinstance(node, ScalarNode) and node.tag == _STR:
            match = _PERCENT.match(node.value.strip())
            if match and float(match[1]) <= 100:
                return FailureBudget(fraction=float(match[1]) / 100)
            if match:
                self.problem(node, path, f"a percentage must be at most 100%; got {node.value!r}")
                return None
        self.problem(
            node,
            path,
            f"expected {expected}; got {repr(node.value) if _is_str(node) else _kind(node)}",
        )
        return None

    def duration(self, node: Node, path: str) -> float | None:
        expected = "a duration like 30s, 5m, 2h, 1d (or seconds as a number)"
        seconds: float | None = None
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            seconds = float(self._constructor.construct_object(node))
        elif isinstance(node, ScalarNode) and node.tag == _STR:
            text = node.value.replace(" ", "").lower()
            if _DURATION.match(text):
                seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))
        if seconds is None:
            shown = repr(node.value) if isinstance(node, ScalarNode) and node.tag == _STR else _kind(node)
            self.problem(node, path, f"expected {expected}; got {shown}")
            return None
        if not math.isfinite(seconds) or seconds <= 0:
            self.problem(node, path, f"must be positive; got {node.value if isinstance(node, ScalarNode) else ''}")
            return None
        return seconds

    # -- entries

    def vm_entry(self, node: Node, path: str, defaults: _Settings) -> ResolvedVm | None:
        if isinstance(node, ScalarNode) and node.tag != _NULL:
            ref = self.vm_id(node, path)
            settings = self.resolve(defaults, node, path)
            return None if ref is None or settings is None else ResolvedVm(ref, settings, _line(node))
        if not isinstance(node, MappingNode):
            self.problem(
                node,
                path,
                "expected a VM resource id or a mapping with id or subscription, resource_group, name; "
                f"got {_kind(node)}",
            )
            return None
        pairs = self.mapping(node, path, _VM_KEYS)
        assert pairs is not None
        ref = self.vm_identity(node, pairs, path)
        overrides = self.settings(pairs, path, depth=2)
        settings = self.resolve({**defaults, **overrides}, node, path)
        return None if ref is None or settings is None else ResolvedVm(ref, settings, _line(node))

    def vm_identity(self, node: Node, pairs: dict[str, tuple[Node, Node]], path: str) -> VmRef | None:
        triple = [k for k in ("subscription", "resource_group", "name") if k in pairs]
        if "id" in pairs:
            if triple:
                self.problem(
                    node,
                    path,
                    f"give either id or subscription, resource_group, name; not both ({', '.join(['id', *triple])})",
                )
                return None
            return self.vm_id(pairs["id"][1], _join(path, "id"))
        if len(triple) < 3:
            missing = [k for k in ("subscription", "resource_group", "name") if k not in pairs]
            self.problem(
                node, path, f"missing {', '.join(missing)}: name a VM by id or by subscription, resource_group and name"
            )
            return None
        sub = self.subscription(pairs["subscription"][1], _join(path, "subscription"))
        group = self.name_segment(pairs["resource_group"][1], _join(path, "resource_group"), "a resource group name")
        name = self.name_segment(pairs["name"][1], _join(path, "name"), "a VM name")
        if sub is None or group is None or name is None:
            return None
        return VmRef(sub, group, name)

    def selector(self, node: Node, path: str, defaults: _Settings) -> Selector | None:
        pairs = self.mapping(node, path, _SELECTOR_KEYS)
        if pairs is None:
            return None
        overrides = self.settings(pairs, path, depth=2)
        settings = self.resolve({**defaults, **overrides}, node, path)
        by_graph = "resource_graph" in pairs
        by_tags = [k for k in ("subscription", "resource_group", "tags") if k in pairs]
        ok = True
        if by_graph and by_tags:
            self.problem(
                node,
                path,
                "give either resource_graph (+ subscriptions) or subscription (+ resource_group, tags); not both",
            )
            return None
        if not by_graph and "subscription" not in pairs:
            self.problem(
                node,
                path,
                "missing subscription: a selector needs subscription (+ resource_group, tags) "
                "or resource_graph (+ subscriptions)",
            )
            return None
        if by_graph:
            query = self.string(
                pairs["resource_graph"][1], _join(path, "resource_graph"), what="an Azure Resource Graph query"
            )
            subscriptions: list[str] = []
            if "subscriptions" not in pairs:
                self.problem(node, _join(path, "subscriptions"), "missing: list the subscriptions the query may search")
                ok = False
            else:
                items = self.sequence(pairs["subscriptions"][1], _join(path, "subscriptions"), "subscription ids") or []
                if not items and isinstance(pairs["subscriptions"][1], SequenceNode):
                    self.problem(
                        pairs["subscriptions"][1], _join(path, "subscriptions"), "list at least one subscription"
                    )
                    ok = False
                for i, item in enumerate(items):
                    sub = self.subscription(item, f"{path}.subscriptions[{i}]")
                    ok = ok and sub is not None
                    if sub is not None:
                        subscriptions.append(sub)
            if query is None or not ok or settings is None:
                return None
            return Selector(settings, _line(node), resource_graph=query, subscriptions=tuple(subscriptions))
        if "subscriptions" in pairs:
            self.problem(
                pairs["subscriptions"][0],
                _join(path, "subscriptions"),
                "only with resource_graph; a tag selector names one subscription",
            )
            ok = False
        sub = self.subscription(pairs["subscription"][1], _join(path, "subscription"))
        group = ""
        if "resource_group" in pairs:
            group = (
                self.name_segment(pairs["resource_group"][1], _join(path, "resource_group"), "a resource group name")
                or ""
            )
            ok = ok and bool(group)
        tags = self.tags(pairs["tags"][1], _join(path, "tags")) if "tags" in pairs else {}
        if sub is None or tags is None or not ok or settings is None:
            return None
        return Selector(settings, _line(node), subscription_id=sub, resource_group=group, tags=tags)

    def tags(self, node: Node, path: str) -> dict[str, str] | None:
        if not isinstance(node, MappingNode) or not node.value:
            self.problem(
                node,
                path,
                "expected a mapping of tag names to values, e.g. {env: prod}; "
                f"got {'an empty mapping' if isinstance(node, MappingNode) else _kind(node)}",
            )
            return None
        tags: dict[str, str] = {}
        for key_node, value_node in node.value:
            key = self.string(key_node, path, what="a tag name")
            if key is None:
                return None
            value = self.string(value_node, _join(path, key), what="a tag value")
            if value is None:
                return None
            if key.lower() in (k.lower() for k in tags):
                self.problem(key_node, _join(path, key), "duplicate tag name (tag names are case-insensitive)")
                return None
            tags[key] = value
        return tags

    # -- documents

    def defaults_document(
        self, defaults: Mapping[str, Any] | str | os.PathLike[str]
    ) -> tuple[dict[str, _Given], _Settings]:
        if isinstance(defaults, Mapping):
            self._source = "<defaults>"
            node: Node | None = yaml.representer.SafeRepresenter().represent_data(dict(defaults))
        else:
            try:
                text = _read(defaults)
            except ManifestError as error:
                self.problems.extend(error.problems)
                return {}, {}
            node = self.compose(text, str(defaults))
        if node is None or _is_null(node):
            return {}, {}
        if isinstance(node, MappingNode):
            keys = {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
            if keys & {"rollout", "defaults"}:
                pairs = self.mapping(node, "", ("version", "rollout", "defaults")) or {}
                rollout: dict[str, _Given] = {}
                if "rollout" in pairs and not _is_null(pairs["rollout"][1]):
                    rollout = self.rollout_values(pairs["rollout"][1])
                settings: _Settings = {}
                if "defaults" in pairs and not _is_null(pairs["defaults"][1]):
                    settings = self.settings(
                        self.mapping(pairs["defaults"][1], "defaults", SETTING_KEYS) or {}, "defaults", 0
                    )
                return rollout, settings
        return {}, self.settings(self.mapping(node, "defaults", SETTING_KEYS) or {}, "defaults", 0)

    def yaml_manifest(
        self, text: str, source: str, base_rollout: dict[str, _Given], base_defaults: _Settings
    ) -> Manifest | None:
        root = self.compose(text, source)
        if root is None:
            if not self.problems or all(p.source != source for p in self.problems):
                self.problem(1, "", "the manifest is empty: list VMs under vms or add selectors")
            return None
        pairs = self.mapping(root, "", _TOP_KEYS)
        if pairs is None:
            return None
        if "version" in pairs and not _is_null(pairs["version"][1]):
            version = self.integer(pairs["version"][1], "version", minimum=1)
            if version is not None and version != 1:
                self.problem(
                    pairs["version"][1],
                    "version",
                    f"unsupported manifest version {version}; this adeflow reads version 1",
                )
        rollout_values = dict(base_rollout)
        if "rollout" in pairs and not _is_null(pairs["rollout"][1]):
            rollout_values.update(self.rollout_values(pairs["rollout"][1]))
        rollout = self.rollout(rollout_values)
        defaults = dict(base_defaults)
        defaults_node: Node | None = None
        if "defaults" in pairs and not _is_null(pairs["defaults"][1]):
            defaults_node = pairs["defaults"][1]
            defaults_pairs = self.mapping(defaults_node, "defaults", SETTING_KEYS)
            if defaults_pairs is None:
                # Unreadable defaults: treat every setting as given-but-invalid so VMs do not each report it.
                broken = _Given(_INVALID, source, _line(defaults_node), "defaults", 1)
                defaults.update(dict.fromkeys(SETTING_KEYS, broken))
            else:
                defaults.update(self.settings(defaults_pairs, "defaults", 1))
        entries: list[tuple[Node, str]] = []
        if "vms" in pairs and not _is_null(pairs["vms"][1]):
            entries = [(n, f"vms[{i}]") for i, n in enumerate(self.sequence(pairs["vms"][1], "vms", "VMs") or [])]
        selector_entries: list[tuple[Node, str]] = []
        if "selectors" in pairs and not _is_null(pairs["selectors"][1]):
            items = self.sequence(pairs["selectors"][1], "selectors", "selectors") or []
            selector_entries = [(n, f"selectors[{i}]") for i, n in enumerate(items)]
        if not entries and not selector_entries:
            at = pairs["vms"][0] if "vms" in pairs else root
            self.problem(at, "vms", "no VMs: list VMs under vms or add selectors")
            return None
        defaults = self.collapse_missing_vault(
            defaults, [n for n, _ in entries + selector_entries], defaults_node or root
        )
        vms = self.vms(entries, defaults)
        selectors = [s for n, p in selector_entries if (s := self.selector(n, p, defaults)) is not None]
        return Manifest(source, rollout, vms, selectors)

    def collapse_missing_vault(self, defaults: _Settings, entries: list[Node], at: Node) -> _Settings:
        """No vault anywhere: one problem at defaults instead of one per VM."""
        if "key_vault_id" in defaults:
            return defaults
        if any(_gives_vault(node) for node in entries):
            return defaults
        self.problem(
            at, "defaults.key_vault_id", f"no Key Vault: set defaults.key_vault_id ({_VAULT_ID_FORMAT}) (R-ENA-3)"
        )
        return {**defaults, "key_vault_id": _Given(_INVALID, self._source, _line(at), "defaults.key_vault_id", 1)}

    def vms(self, entries: list[tuple[Node, str]], defaults: _Settings) -> list[ResolvedVm]:
        vms: list[ResolvedVm] = []
        first: dict[str, tuple[str, int]] = {}
        for node, path in entries:
            vm = self.vm_entry(node, path, defaults)
            ref = vm.ref if vm is not None else self.quiet_ref(node)
            if ref is None:
                continue
            key = ref.key.lower()
            if key in first:
                other_path, other_line = first[key]
                self.problem(
                    node,
                    path,
                    f"duplicate VM {ref.key}: already listed as {other_path} at line {other_line}; list each VM once",
                )
                continue
            first[key] = (path, _line(node))
            if vm is not None:
                vms.append(vm)
        return vms

    def quiet_ref(self, node: Node) -> VmRef | None:
        """The VM an invalid entry names, if it can be told without reporting again (for duplicate detection)."""
        text: str | None = None
        if isinstance(node, ScalarNode):
            text = node.value
        elif isinstance(node, MappingNode):
            values = {
                k.value: v.value for k, v in node.value if isinstance(k, ScalarNode) and isinstance(v, ScalarNode)
            }
            if "id" in values:
                text = values["id"]
            elif all(k in values for k in ("subscription", "resource_group", "name")):
                return VmRef(values["subscription"], values["resource_group"], values["name"])
        try:
            return VmRef.from_resource_id(text) if text else None
        except ValueError:
            return None

    def csv_manifest(
        self, text: str, source: str, base_rollout: dict[str, _Given], base_defaults: _Settings
    ) -> Manifest | None:
        rollout = self.rollout(base_rollout)
        self._source = source
        try:
            rows = list(_csv_rows(text))
        except csv.Error as exc:  # e.g. a NUL byte: not a CSV file at all
            self.problem(1, "", f"not a readable CSV file: {exc}")
            return None
        if not rows:
            self.problem(
                1, "", "the manifest is empty: expected a header row (id, or subscription,resource_group,name)"
            )
            return None
        header_line, header = rows[0]
        columns = [cell.strip().lower() for cell in header]
        ok = True
        for i, column in enumerate(columns):
            if column not in _CSV_COLUMNS:
                ok = False
                hint = _suggest(column, _CSV_COLUMNS)
                self.problem(
                    header_line,
                    f"columns[{i}]",
                    f'unknown column "{column}"; {hint}allowed columns: {", ".join(_CSV_COLUMNS)}',
                )
            elif columns.index(column) != i:
                ok = False
                self.problem(header_line, f"columns[{i}]", f'duplicate column "{column}"')
        if "id" not in columns and not all(c in columns for c in ("subscription", "resource_group", "name")):
            found = ", ".join(columns) or "nothing"
            self.problem(
                header_line,
                "columns",
                f"missing columns: give id, or subscription, resource_group and name; found {found}",
            )
            ok = False
        if not ok:
            return None
        if len(rows) == 1:
            self.problem(header_line, "vms", "no VMs: the CSV has a header but no rows")
            return None
        defaults = base_defaults
        entries: list[tuple[Node, str]] = []
        for index, (line, cells) in enumerate(rows[1:]):
            path = f"vms[{index}]"
            if len(cells) > len(columns):
                self.problem(line, path, f"row has {len(cells)} cells but the header has {len(columns)} columns")
                continue
            mark = Mark(source, 0, line - 1, 0, None, 0)
            pairs = [
                (ScalarNode(_STR, column, mark, mark), ScalarNode(_STR, cell.strip(), mark, mark))
                for column, cell in zip(columns, cells, strict=False)
                if cell.strip()
            ]
            entries.append((MappingNode("tag:yaml.org,2002:map", pairs, mark, mark), path))
        defaults = self.collapse_missing_vault(
            defaults,
            [n for n, _ in entries],
            MappingNode("", [], Mark(source, 0, header_line - 1, 0, None, 0), None),
        )
        return Manifest(source, rollout, self.vms(entries, defaults), [])


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Rows with the line each starts on; blank rows and ``#`` comment rows skipped."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))  # csv handles \r, \n and \r\n itself
    start = 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        yield line, cells


def _is_str(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STR


def _gives_vault(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "key_vault_id" and not _is_null(v) for k, v in node.value
    )


def _mark_line(mark: Mark | None) -> int:
    return int(mark.line) + 1 if mark is not None else 0


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
