"""Campaign files: recurring ADE work on a Temporal Schedule, validated like manifests before anything is created.

Every problem is reported at once as ``file:line: field: message`` (:class:`CampaignError`, exit code 2), with the
manifest module's parser and messages, so a selector or a setting reads the same in both files. The JSON Schema in
``adeflow/inputs/schemas/campaign.schema.json`` describes the format for editors; this module is the authority.

YAML format::

    version: 1                              # optional; the only version so far
    name: weekly-kek-rotation               # letters, digits, . _ - (max 46): schedule id campaign/<name>
    kind: rotate-kek                        # rotate-kek | drift | audit
    description: rotate to the newest kek-ade version   # optional; the schedule's note
    schedule:
      cron: "0 2 * * 1"                     # one cron expression or a list; or instead:
      # interval: 6h                        # every 6 hours (at least 1m)
      time_zone: Europe/Berlin              # IANA name; default UTC
      jitter: 10m                           # optional: spread starts over up to this long
      catchup_window: 1h                    # optional: how late a missed run may still start (default 1h)
    overlap: skip                           # skip (default) | buffer-one: never two runs of a campaign at once
    # The fleet: a manifest (its VMs, selectors and defaults), or selectors/vms/defaults here as in a manifest.
    manifest: ../fleets/prod.yaml           # relative to this file
    selectors: [{subscription: <sub>, tags: {ade: "yes"}}]
    defaults: {key_vault_id: <vault id>, volume_type: All, confirmations: [data-disks-mounted-in-fstab]}
    rollout: {canary: 1, waves: [5, 25], failure_budget: 5%}   # as in a manifest (its name is not used)
    rotate_kek:                             # rotate-kek (required) and audit (optional)
      key_url: https://<vault>.vault.azure.net/keys/<name>    # unversioned: the key's current version at each run
      vault_id: <Key Vault resource id of that vault>
      max_age_days: 90                      # rotate an older version of the same key only past this age
    notify:
      report_dir: /var/lib/adeflow/campaign-reports   # on the worker; relative paths are resolved here
      webhook: https://hooks.example.com/adeflow      # optional POST of the summary (no secrets in the URL)
      webhook_env: ADEFLOW_CAMPAIGN_WEBHOOK           # or: the worker reads the URL from this variable

Why ``webhook_env``: campaign inputs live in workflow history, where no secret may go (docs/original-design.md
§5.7); a webhook URL that carries a token belongs in the worker's environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import Node, ScalarNode, SequenceNode

from adeflow.domain.campaign_plan import MAX_NAME, CampaignInput, CampaignKind, RotateKek
from adeflow.domain.fleet import ResolvedVm, RolloutPolicy, Selector, VmSettings
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.rollout import build_rollout_input
from adeflow.domain.vocabulary import NEW_DISK_CONFIRMATION
from adeflow.inputs.manifest import (
    _INVALID,
    SETTING_KEYS,
    ManifestError,
    ManifestProblem,
    _Given,
    _is_null,
    _Parser,
    _read,
    _Settings,
    _suggest,
    load_manifest,
)

__all__ = [
    "SCHEMA_PATH",
    "CampaignError",
    "CampaignFile",
    "CampaignSchedule",
    "Overlap",
    "load_campaign",
    "parse_campaign_text",
]

SCHEMA_PATH: Final = Path(__file__).parent / "schemas" / "campaign.schema.json"
MIN_INTERVAL_S: Final = 60.0

_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME - 1}}}$")
_KEY_URL = re.compile(
    r"^https://(?P<vault>[a-z0-9-]{3,24})\.(?P<suffix>[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
    r"/keys/(?P<name>[a-z0-9-]{1,127})(?:/(?P<version>[a-z0-9]+))?/?$",
    re.IGNORECASE,
)
_KEY_URL_FORMAT = "https://<vault>.vault.azure.net/keys/<name>[/<version>]"
_CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TOP_KEYS = (
    "version",
    "name",
    "kind",
    "description",
    "schedule",
    "overlap",
    "manifest",
    "rollout",
    "defaults",
    "vms",
    "selectors",
    "rotate_kek",
    "notify",
)
_SCHEDULE_KEYS = ("cron", "interval", "time_zone", "jitter", "catchup_window")
_ROTATE_KEYS = ("key_url", "vault_id", "max_age_days")
_NOTIFY_KEYS = ("report_dir", "webhook", "webhook_env")
_FLEET_KEYS = ("defaults", "vms", "selectors")


class CampaignError(ManifestError):
    """A campaign file that must not create or change a schedule; ``problems`` lists everything wrong."""


class Overlap(StrEnum):
    """What a schedule does when a run is due while the previous one still runs (never two at once)."""

    SKIP = "skip"
    BUFFER_ONE = "buffer-one"


@dataclass(frozen=True)
class CampaignSchedule:
    cron: tuple[str, ...] = ()
    interval_s: float | None = None
    time_zone: str = "UTC"
    jitter_s: float | None = None
    catchup_window_s: float | None = None

    def describe(self) -> str:
        when = f"cron {' | '.join(self.cron)}" if self.cron else f"every {_span(self.interval_s or 0)}"
        return f"{when} ({self.time_zone})" + (f", jitter {_span(self.jitter_s)}" if self.jitter_s else "")


def _span(seconds: float) -> str:
    """``1d``, ``6h``, ``90m``: the units a campaign file is written in."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class CampaignFile:
    source: str
    name: str
    kind: CampaignKind
    schedule: CampaignSchedule
    overlap: Overlap
    rollout: RolloutPolicy
    vms: list[ResolvedVm]
    selectors: list[Selector]
    fleet_source: str
    """Where the VMs and selectors were written: the campaign file, or its manifest."""
    report_dir: str
    description: str = ""
    rotate: RotateKek | None = None
    webhook_url: str = ""
    webhook_env: str = ""

    @property
    def schedule_id(self) -> str:
        return schedule_id(self.name)

    def to_input(self) -> CampaignInput:
        """The schedule's workflow argument: the fleet compacted as a rollout takes it, selectors unresolved."""
        fleet = build_rollout_input(
            "",
            self.rollout,
            [(vm.ref, vm.settings) for vm in self.vms],
            [(selector.query(self.fleet_source), selector.settings) for selector in self.selectors],
        )
        webhook = f"env:{self.webhook_env}" if self.webhook_env else self.webhook_url
        return CampaignInput(
            name=self.name,
            kind=self.kind,
            fleet=fleet,
            rotate=self.rotate,
            report_dir=self.report_dir,
            webhook_url=webhook,
            source=self.source,
        )


def schedule_id(name: str) -> str:
    """``campaign/<name>``: also the prefix of every run's workflow id (the schedule appends the action time)."""
    return f"campaign/{name}"


def load_campaign(path: str | os.PathLike[str]) -> CampaignFile:
    """Read and validate a campaign file; raise :class:`CampaignError` listing every problem."""
    source = str(path)
    if Path(path).suffix.lower() not in (".yaml", ".yml"):
        raise CampaignError([ManifestProblem(source, 0, "", "unsupported file type: expected .yaml or .yml")])
    try:
        text = _read(path)
    except ManifestError as error:
        raise CampaignError(error.problems) from None
    return parse_campaign_text(text, source=source, base_dir=Path(path).resolve().parent)


def parse_campaign_text(text: str, source: str = "<campaign>", base_dir: Path | None = None) -> CampaignFile:
    """Validate a campaign given as text; relative paths resolve against ``base_dir`` (default: the cwd)."""
    parser = _CampaignParser(base_dir or Path.cwd())
    campaign = parser.campaign(text, source)
    if parser.problems:
        raise CampaignError(parser.sorted_problems())
    assert campaign is not None
    return campaign


class _CampaignParser(_Parser):
    def __init__(self, base_dir: Path) -> None:
        super().__init__()
        self.base_dir = base_dir

    def campaign(self, text: str, source: str) -> CampaignFile | None:
        root = self.compose(text, source)
        if root is None:
            if not self.problems:
                self.problem(1, "", "the campaign file is empty: give name, kind, schedule, a fleet and notify")
            return None
        pairs = self.mapping(root, "", _TOP_KEYS)
        if pairs is None:
            return None
        given = {k: v for k, v in pairs.items() if not _is_null(v[1])}
        if "version" in given:
            version = self.integer(given["version"][1], "version", minimum=1)
            if version is not None and version != 1:
                self.problem(given["version"][1], "version", f"unsupported campaign version {version}; expected 1")
        for key in ("name", "kind", "schedule", "notify"):
            if key not in given:
                self.problem(root, key, f"missing: a campaign needs {key} ({_HINTS[key]})")
        name = self.campaign_name(given["name"][1]) if "name" in given else None
        kind = self.kind(given["kind"][1]) if "kind" in given else None
        description = self.string(given["description"][1], "description") or "" if "description" in given else ""
        schedule = self.schedule(given["schedule"][1]) if "schedule" in given else None
        overlap = self.overlap(given["overlap"][1]) if "overlap" in given else Overlap.SKIP
        rotate = self.rotate_kek(given["rotate_kek"][1]) if "rotate_kek" in given else None
        notify = self.notify(given["notify"][1]) if "notify" in given else None
        if kind is CampaignKind.ROTATE_KEK and "rotate_kek" not in given:
            self.problem(
                given["kind"][1], "rotate_kek", "missing: a rotate-kek campaign needs rotate_kek {key_url, vault_id}"
            )
        if kind is CampaignKind.DRIFT and "rotate_kek" in given:
            self.problem(given["rotate_kek"][0], "rotate_kek", "only for kind rotate-kek (or audit, to report on it)")
        fleet = self.fleet(root, given)
        if fleet is not None and kind is CampaignKind.ROTATE_KEK:
            self.check_reenable_confirmed(given["kind"][1], fleet[0], fleet[1])
        if self.problems or None in (name, kind, schedule, overlap, notify, fleet):
            return None
        assert name and kind and schedule and overlap and notify and fleet
        vms, selectors, rollout, fleet_source = fleet
        report_dir, webhook, webhook_env = notify
        return CampaignFile(
            source=source,
            name=name,
            kind=kind,
            schedule=schedule,
            overlap=overlap,
            rollout=rollout,
            vms=vms,
            selectors=selectors,
            fleet_source=fleet_source,
            report_dir=report_dir,
            description=description,
            rotate=rotate,
            webhook_url=webhook,
            webhook_env=webhook_env,
        )

    # -- scalars

    def campaign_name(self, node: Node) -> str | None:
        text = self.string(node, "name", what="a campaign name")
        if text is not None and not _NAME.match(text):
            self.problem(
                node,
                "name",
                f"use letters, digits, '.', '_' and '-' (at most {MAX_NAME}, starting with a letter or digit); "
                f"got {text!r}",
            )
            return None
        return text

    def kind(self, node: Node) -> CampaignKind | None:
        value = self.enum(node, "kind", {k.value: k for k in CampaignKind})
        return value if isinstance(value, CampaignKind) else None

    def overlap(self, node: Node) -> Overlap | None:
        value = self.enum(node, "overlap", {o.value: o for o in Overlap})
        return value if isinstance(value, Overlap) else None

    # -- schedule

    def schedule(self, node: Node) -> CampaignSchedule | None:
        pairs = self.mapping(node, "schedule", _SCHEDULE_KEYS)
        if pairs is None:
            return None
        given = {k: v for k, v in pairs.items() if not _is_null(v[1])}
        ok = True
        if ("cron" in given) == ("interval" in given):
            self.problem(node, "schedule", "give exactly one of cron (an expression or a list) and interval")
            ok = False
        cron: tuple[str, ...] = ()
        if "cron" in given:
            parsed = self.cron(given["cron"][1])
            ok = ok and parsed is not None
            cron = parsed or ()
        interval = None
        if "interval" in given:
            interval = self.duration(given["interval"][1], "schedule.interval")
            if interval is not None and interval < MIN_INTERVAL_S:
                self.problem(given["interval"][1], "schedule.interval", "must be at least 1m")
                interval = None
            ok = ok and interval is not None
        zone = "UTC"
        if "time_zone" in given:
            zone = self.time_zone(given["time_zone"][1]) or ""
            ok = ok and bool(zone)
        extra: dict[str, float | None] = {}
        for key in ("jitter", "catchup_window"):
            extra[key] = self.duration(given[key][1], f"schedule.{key}") if key in given else None
            ok = ok and (key not in given or extra[key] is not None)
        if not ok:
            return None
        return CampaignSchedule(cron, interval, zone, extra["jitter"], extra["catchup_window"])

    def cron(self, node: Node) -> tuple[str, ...] | None:
        if isinstance(node, SequenceNode):
            if not node.value:
                self.problem(node, "schedule.cron", "give at least one cron expression")
                return None
            items = [(item, f"schedule.cron[{i}]") for i, item in enumerate(node.value)]
        else:
            items = [(node, "schedule.cron")]
        expressions = [self.cron_expression(item, path) for item, path in items]
        if any(e is None for e in expressions):
            return None
        return tuple(e for e in expressions if e is not None)

    def cron_expression(self, node: Node, path: str) -> str | None:
        text = self.string(node, path, what='a cron expression like "0 2 * * 1"')
        if text is None:
            return None
        if text.startswith("@"):
            if text.lower() in _CRON_ALIASES:
                return text.lower()
            hint = _suggest(text, _CRON_ALIASES)
            self.problem(node, path, f"unknown cron alias {text!r}; {hint}known: {', '.join(_CRON_ALIASES)}")
            return None
        fields = text.split()
        if len(fields) != 5:
            self.problem(
                node, path, f"a cron expression has 5 fields (minute hour day-of-month month day-of-week); got {text!r}"
            )
            return None
        for value, (low, high), what in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
            numbers = [int(n) for n in re.findall(r"\d+", value)] if _CRON_FIELD.match(value) else None
            step = value.split("/", 1)[1] if "/" in value else ""
            bounded = [n for n in (numbers or []) if not (step and str(n) == step)]
            if numbers is None or any(n < low or n > high for n in bounded):
                self.problem(node, path, f"{what} field {value!r} is not valid (numbers {low}-{high}, * , - /)")
                return None
        return text

    def time_zone(self, node: Node) -> str | None:
        text = self.string(node, "schedule.time_zone", what="an IANA time zone like Europe/Berlin")
        if text is None:
            return None
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(node, "schedule.time_zone", f"unknown time zone {text!r}: use an IANA name like Europe/Berlin")
            return None
        return text

    # -- kind parameters and notification

    def rotate_kek(self, node: Node) -> RotateKek | None:
        pairs = self.mapping(node, "rotate_kek", _ROTATE_KEYS)
        if pairs is None:
            return None
        given = {k: v for k, v in pairs.items() if not _is_null(v[1])}
        missing = [k for k in ("key_url", "vault_id") if k not in given]
        if missing:
            self.problem(node, "rotate_kek", f"missing {' and '.join(missing)}: the target KEK and its vault (R-ENA-3)")
        url = vault = None
        if "key_url" in given:
            url = self.string(given["key_url"][1], "rotate_kek.key_url", what=f"a key URL ({_KEY_URL_FORMAT})")
            if url is not None and not _KEY_URL.match(url):
                self.problem(
                    given["key_url"][1],
                    "rotate_kek.key_url",
                    f"malformed key URL {url!r}: expected {_KEY_URL_FORMAT}, no port (R-ENA-3)",
                )
                url = None
        if "vault_id" in given:
            vault = self.vault_id(given["vault_id"][1], "rotate_kek.vault_id")
        max_age: float | None = None
        if "max_age_days" in given:
            max_age = self.days(given["max_age_days"][1], "rotate_kek.max_age_days")
            if max_age is None:
                return None
        if url is None or vault is None:
            return None
        match = _KEY_URL.match(url)
        assert match is not None
        vault_name = parse_resource_id(vault).name
        if match["vault"].lower() != vault_name.lower():
            self.problem(
                given["key_url"][1],
                "rotate_kek.key_url",
                f"the key is in vault {match['vault']!r} but vault_id names vault {vault_name!r}; they must be the "
                "same vault (R-ENA-3)",
            )
            return None
        return RotateKek(key_url=url.rstrip("/"), vault_id=vault, max_age_days=max_age)

    def days(self, node: Node, path: str) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            value = float(self._constructor.construct_object(node))
            if value >= 0:
                return value
        self.problem(node, path, "expected a number of days, 0 or more (e.g. 90)")
        return None

    def notify(self, node: Node) -> tuple[str, str, str] | None:
        pairs = self.mapping(node, "notify", _NOTIFY_KEYS)
        if pairs is None:
            return None
        given = {k: v for k, v in pairs.items() if not _is_null(v[1])}
        if "report_dir" not in given:
            self.problem(node, "notify.report_dir", "missing: the directory (on the worker) for the report files")
            return None
        report_dir = self.string(given["report_dir"][1], "notify.report_dir", what="a directory")
        webhook = env = ""
        if "webhook" in given and "webhook_env" in given:
            self.problem(node, "notify", "give webhook or webhook_env, not both")
            return None
        if "webhook" in given:
            webhook = self.webhook(given["webhook"][1]) or ""
            if not webhook:
                return None
        if "webhook_env" in given:
            env = self.string(given["webhook_env"][1], "notify.webhook_env", what="an environment variable name") or ""
            if env and not _ENV_NAME.match(env):
                self.problem(given["webhook_env"][1], "notify.webhook_env", f"not a variable name: {env!r}")
                return None
            if not env:
                return None
        if report_dir is None:
            return None
        return str((self.base_dir / Path(report_dir).expanduser()).resolve()), webhook, env

    def webhook(self, node: Node) -> str | None:
        text = self.string(node, "notify.webhook", what="an http(s) URL")
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(node, "notify.webhook", f"expected an http(s) URL; got {text!r}")
            return None
        if parts.username or parts.password or parts.query:
            self.problem(
                node,
                "notify.webhook",
                "the URL carries credentials or a query: campaign inputs are kept in workflow history, where no "
                "secret may go (DESIGN §5.7); put the URL in the worker's environment and name it in webhook_env",
            )
            return None
        return text

    # -- the fleet

    def fleet(
        self, root: Node, given: dict[str, tuple[Node, Node]]
    ) -> tuple[list[ResolvedVm], list[Selector], RolloutPolicy, str] | None:
        """VMs, selectors and rollout policy, from this file or from its manifest."""
        rollout_values: dict[str, _Given] = {}
        if "rollout" in given:
            rollout_values = self.rollout_values(given["rollout"][1])
            if "name" in rollout_values:
                named = rollout_values.pop("name")
                self.problem(
                    named.line,
                    "rollout.name",
                    "not used by a campaign: each run's rollout is named <campaign name>-<action time>",
                )
        if "manifest" in given:
            here = [k for k in _FLEET_KEYS if k in given]
            if here:
                self.problem(
                    given[here[0]][0],
                    here[0],
                    "with manifest, the fleet (vms, selectors, defaults) comes from the manifest; edit it there",
                )
                return None
            return self.from_manifest(given["manifest"][1], rollout_values)
        if "vms" not in given and "selectors" not in given:
            self.problem(root, "selectors", "no fleet: give selectors or vms (as in a manifest), or a manifest path")
            return None
        rollout = self.rollout(rollout_values)
        defaults: _Settings = {}
        defaults_node: Node | None = None
        if "defaults" in given:
            defaults_node = given["defaults"][1]
            defaults_pairs = self.mapping(defaults_node, "defaults", SETTING_KEYS)
            if defaults_pairs is None:
                return None
            defaults = self.settings(defaults_pairs, "defaults", 1)
        entries: list[tuple[Node, str]] = []
        if "vms" in given:
            entries = [(n, f"vms[{i}]") for i, n in enumerate(self.sequence(given["vms"][1], "vms", "VMs") or [])]
        selector_entries: list[tuple[Node, str]] = []
        if "selectors" in given:
            items = self.sequence(given["selectors"][1], "selectors", "selectors") or []
            selector_entries = [(n, f"selectors[{i}]") for i, n in enumerate(items)]
        if not entries and not selector_entries:
            self.problem(root, "selectors", "no fleet: the vms and selectors lists are empty")
            return None
        defaults = self.collapse_missing_vault(
            defaults, [n for n, _ in entries + selector_entries], defaults_node or root
        )
        vms = self.vms(entries, defaults)
        selectors = [s for n, p in selector_entries if (s := self.selector(n, p, defaults)) is not None]
        return vms, selectors, rollout, self._source

    def from_manifest(
        self, node: Node, rollout_values: dict[str, _Given]
    ) -> tuple[list[ResolvedVm], list[Selector], RolloutPolicy, str] | None:
        text = self.string(node, "manifest", what="the path of a fleet manifest")
        if text is None:
            return None
        path = (self.base_dir / Path(text).expanduser()).resolve()
        try:
            manifest = load_manifest(path)
        except ManifestError as error:
            self.problem(node, "manifest", f"the manifest {text} is not valid (its problems follow)")
            self.problems.extend(error.problems)
            return None
        valid = {k: g.value for k, g in rollout_values.items() if g.value is not _INVALID}
        rollout = replace(manifest.rollout, **valid)
        deadline = rollout_values.get("encryption_deadline_s") or rollout_values.get("poll_interval_s")
        if deadline is not None and rollout.encryption_deadline_s <= rollout.poll_interval_s:
            self.problem(deadline.line, deadline.field, "rollout.encryption_deadline must be longer than poll_interval")
        return manifest.vms, manifest.selectors, rollout, str(path)

    def check_reenable_confirmed(self, at: Node, vms: list[ResolvedVm], selectors: list[Selector]) -> None:
        """A rotation re-enables ADE, which R-NEW-1 lets adeflow do only on the operator's standing word."""
        settings: list[VmSettings] = [vm.settings for vm in vms] + [s.settings for s in selectors]
        if any(NEW_DISK_CONFIRMATION not in s.confirmations for s in settings):
            self.problem(
                at,
                "kind",
                "rotate-kek re-enables ADE with a new KEK, which also picks up any new data disk (R-NEW-1): add "
                f"{NEW_DISK_CONFIRMATION} to defaults.confirmations (every VM and selector needs it) once data disks "
                "are formatted, mounted and in /etc/fstab",
            )


_HINTS = {
    "name": "letters, digits, . _ -",
    "kind": "rotate-kek, drift or audit",
    "schedule": "cron or interval",
    "notify": "report_dir",
}
