"""Campaign files: recurring ADE work on a Temporal Schedule, validated like manifests before anything is created.

Every problem is reported at once as ``file:line: field: message`` (:class:`CampaignError`, exit code 2), with the
manifest's models and messages (:mod:`adeflow.inputs.fleet_entries`, :mod:`adeflow.inputs.settings_block`), so a
selector or a setting reads the same in both files, and values parsed by :mod:`adeflow.domain.values`. The JSON
Schema in ``adeflow/inputs/schemas/campaign.schema.json`` describes the format for editors and rejects the same
malformed values; this module is the authority (it also checks what spans objects).

YAML format::

    version: 1                              # optional; the only version so far
    name: weekly-kek-rotation               # letters, digits, . _ - (max 46): schedule id campaign/<name>
    kind: rotate-kek                        # rotate-kek | drift | audit (as written: lower case)
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
from typing import Annotated, Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import PlainValidator

from adeflow.domain import values
from adeflow.domain.campaign_plan.payloads import CampaignInput, CampaignKind, RotateKek
from adeflow.domain.campaign_plan.run import MAX_NAME
from adeflow.domain.fleet import ResolvedVm, RolloutPolicy, Selector
from adeflow.domain.rollout import build_rollout_input
from adeflow.domain.vocabulary import NEW_DISK_CONFIRMATION
from adeflow.inputs.fleet_entries import Duration, Positive, read_rollout, read_selectors, read_vms, rollout_policy
from adeflow.inputs.manifest import load_manifest, read_text
from adeflow.inputs.problems import ManifestError, ManifestProblem, Problems
from adeflow.inputs.settings_block import INVALID, Given, Settings, collapse_missing_vault, read_defaults
from adeflow.inputs.validation import Strict, What, check
from adeflow.inputs.yaml_nodes import At, given, load_yaml

__all__ = [
    "SCHEMA_PATH",
    "CampaignError",
    "CampaignFile",
    "CampaignSchedule",
    "Overlap",
    "load_campaign",
    "parse_campaign_text",
    "schedule_id",
]

SCHEMA_PATH: Final = Path(__file__).parent / "schemas" / "campaign.schema.json"
MIN_INTERVAL_S: Final = 60.0

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FLEET_KEYS = ("defaults", "vms", "selectors")
_HINTS = {
    "name": "letters, digits, . _ -",
    "kind": "rotate-kek, drift or audit",
    "schedule": "cron or interval",
    "notify": "report_dir",
}


class CampaignError(ManifestError):
    """A campaign file that must not create or change a schedule; ``problems`` lists everything wrong."""


class Overlap(StrEnum):
    """What a schedule does when a run is due while the previous one still runs (never two at once)."""

    SKIP = "skip"
    BUFFER_ONE = "buffer-one"


# ---------------------------------------------------------------------------------------------------- the format


def _interval(value: object) -> float:
    seconds = values.parse_duration(value)
    if seconds < MIN_INTERVAL_S:
        raise ValueError("must be at least 1m")
    return seconds


def _time_zone(value: object) -> str:
    zone = values.text(value, "an IANA time zone like Europe/Berlin")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}: use an IANA name like Europe/Berlin") from None
    return zone


def _days(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise ValueError("expected a number of days, 0 or more (e.g. 90)")


def _webhook(value: object) -> str:
    url = values.text(value, "an http(s) URL")
    try:
        parts = urlsplit(url)
        credentials = parts.username is not None or parts.password is not None
    except ValueError:
        raise ValueError(f"expected an http(s) URL; got {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"expected an http(s) URL; got {url!r}")
    if credentials or parts.query or "?" in url:
        raise ValueError(
            "the URL carries credentials or a query: campaign inputs are kept in workflow history, where no "
            "secret may go (docs/original-design.md §5.7); put the URL in the worker's environment and name it in "
            "webhook_env"
        )
    return url


def _directory(value: object) -> str:
    return values.text(value, "a directory")


def _env_name(value: object) -> str:
    name = values.text(value, "an environment variable name")
    if not _ENV_NAME.match(name):
        raise ValueError(f"not a variable name: {name!r}")
    return name


def _campaign_name(value: object) -> str:
    return values.parse_name(value, "a campaign name", MAX_NAME)


def _kind(value: object) -> CampaignKind:
    """As written: the schema's conditions (rotate-kek needs rotate_kek) compare the exact value."""
    return values.parse_choice(value, list(CampaignKind), case_sensitive=True)


def _overlap(value: object) -> Overlap:
    return values.parse_choice(value, list(Overlap), case_sensitive=True)


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string; got {values.kind_of(value)}")
    return value


def _manifest_path(value: object) -> str:
    return values.text(value, "the path of a fleet manifest")


class CampaignFields(Strict):
    """The top level of a campaign file (the fleet sections are those of a manifest)."""

    version: Positive | None = None
    name: Annotated[str, PlainValidator(_campaign_name)] | None = None
    kind: Annotated[CampaignKind, PlainValidator(_kind)] | None = None
    description: Annotated[str, PlainValidator(_description)] | None = None
    schedule: Any = None
    overlap: Annotated[Overlap, PlainValidator(_overlap)] | None = None
    manifest: Annotated[str, PlainValidator(_manifest_path)] | None = None
    rollout: Any = None
    defaults: Any = None
    vms: Annotated[list[Any] | None, What("VMs")] = None
    selectors: Annotated[list[Any] | None, What("selectors")] = None
    rotate_kek: Any = None
    notify: Any = None


_TOP_KEYS: Final = tuple(CampaignFields.model_fields)


class ScheduleFields(Strict):
    cron: Any = None
    """One expression or a list: each parsed where it is written, so a list item's problem names its index."""
    interval: Annotated[float, PlainValidator(_interval)] | None = None
    time_zone: Annotated[str, PlainValidator(_time_zone)] | None = None
    jitter: Duration | None = None
    catchup_window: Duration | None = None


class RotateFields(Strict):
    key_url: Annotated[values.VaultObjectUrl, PlainValidator(values.parse_key_url)] | None = None
    vault_id: Annotated[str, PlainValidator(values.parse_vault_id)] | None = None
    max_age_days: Annotated[float, PlainValidator(_days)] | None = None


class NotifyFields(Strict):
    report_dir: Annotated[str, PlainValidator(_directory)] | None = None
    webhook: Annotated[str, PlainValidator(_webhook)] | None = None
    webhook_env: Annotated[str, PlainValidator(_env_name)] | None = None


# ---------------------------------------------------------------------------------------------------- results


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


# ---------------------------------------------------------------------------------------------------- reading


def load_campaign(path: str | os.PathLike[str]) -> CampaignFile:
    """Read and validate a campaign file; raise :class:`CampaignError` listing every problem."""
    source = str(path)
    if Path(path).suffix.lower() not in (".yaml", ".yml"):
        raise CampaignError([ManifestProblem(source, 0, "", "unsupported file type: expected .yaml or .yml")])
    try:
        text = read_text(path)
    except ManifestError as error:
        raise CampaignError(error.problems) from None
    return parse_campaign_text(text, source=source, base_dir=Path(path).resolve().parent)


def parse_campaign_text(text: str, source: str = "<campaign>", base_dir: Path | None = None) -> CampaignFile:
    """Validate a campaign given as text; relative paths resolve against ``base_dir`` (default: the cwd)."""
    problems = Problems()
    campaign = _Reader(base_dir or Path.cwd(), problems).campaign(text, source)
    if problems or campaign is None:
        raise CampaignError(problems.sorted())
    return campaign


_Fleet = tuple[list[ResolvedVm], list[Selector], RolloutPolicy, str]


class _Reader:
    def __init__(self, base_dir: Path, problems: Problems) -> None:
        self.base_dir = base_dir
        self.problems = problems

    def campaign(self, text: str, source: str) -> CampaignFile | None:
        doc = load_yaml(text, source, self.problems)
        if doc is None:
            return None
        root = At(doc)
        if doc.empty:
            self.problems.add(
                source, 1, "", "the campaign file is empty: give name, kind, schedule, a fleet and notify"
            )
            return None
        top = check(CampaignFields, root)
        if top is None:
            return None
        model, sections = top.model, given(doc.root)
        if top.ok("version") and model.version != 1:
            root.child("version").report(f"unsupported campaign version {model.version}; expected 1")
        for key in ("name", "kind", "schedule", "notify"):
            if key not in sections:
                root.child(key).report(f"missing: a campaign needs {key} ({_HINTS[key]})", at=root)
        schedule = self.schedule(root.child("schedule")) if "schedule" in sections else None
        rotate = self.rotate_kek(root.child("rotate_kek")) if "rotate_kek" in sections else None
        notify = self.notify(root.child("notify")) if "notify" in sections else None
        kind = model.kind
        if kind is CampaignKind.ROTATE_KEK and "rotate_kek" not in sections:
            root.child("rotate_kek").report(
                "missing: a rotate-kek campaign needs rotate_kek {key_url, vault_id}", at=root.child("kind")
            )
        if kind is CampaignKind.DRIFT and "rotate_kek" in sections:
            root.child("rotate_kek").report("only for kind rotate-kek (or audit, to report on it)", key=True)
        fleet = self.fleet(root, sections, top.invalid)
        if fleet is not None and kind is CampaignKind.ROTATE_KEK:
            self.check_reenable_confirmed(root.child("kind"), fleet[0], fleet[1])
        if self.problems or model.name is None or kind is None or schedule is None or notify is None or fleet is None:
            return None
        vms, selectors, rollout, fleet_source = fleet
        report_dir, webhook, webhook_env = notify
        return CampaignFile(
            source=source,
            name=model.name,
            kind=kind,
            schedule=schedule,
            overlap=model.overlap or Overlap.SKIP,
            rollout=rollout,
            vms=vms,
            selectors=selectors,
            fleet_source=fleet_source,
            report_dir=report_dir,
            description=model.description or "",
            rotate=rotate,
            webhook_url=webhook,
            webhook_env=webhook_env,
        )

    def schedule(self, at: At) -> CampaignSchedule | None:
        keys = given(at.raw)
        if isinstance(at.raw, dict) and ("cron" in keys) == ("interval" in keys):
            at.report("give exactly one of cron (an expression or a list) and interval")
        checked = check(ScheduleFields, at)
        if checked is None:
            return None
        cron = self.cron(at.child("cron")) if "cron" in keys else ()
        model = checked.model
        if checked.invalid or cron is None or ("cron" in keys) == ("interval" in keys):
            return None
        return CampaignSchedule(cron, model.interval, model.time_zone or "UTC", model.jitter, model.catchup_window)

    def cron(self, at: At) -> tuple[str, ...] | None:
        raw = at.raw
        items = [at.child(i) for i in range(len(raw))] if isinstance(raw, list) else [at]
        if isinstance(raw, list) and not raw:
            at.report("give at least one cron expression")
            return None
        expressions: list[str] = []
        for item in items:
            try:
                expressions.append(values.parse_cron(item.raw))
            except ValueError as exc:
                item.report(str(exc))
        return tuple(expressions) if len(expressions) == len(items) else None

    def rotate_kek(self, at: At) -> RotateKek | None:
        keys = given(at.raw)
        checked = check(RotateFields, at)
        if checked is None:
            return None
        missing = [k for k in ("key_url", "vault_id") if k not in keys]
        if missing:
            at.report(f"missing {' and '.join(missing)}: the target KEK and its vault (R-ENA-3)")
        model = checked.model
        if checked.invalid or model.key_url is None or model.vault_id is None:
            return None
        try:
            values.check_same_vault(model.key_url, model.vault_id)
        except ValueError as exc:
            at.child("key_url").report(str(exc))
            return None
        return RotateKek(key_url=model.key_url.url, vault_id=model.vault_id, max_age_days=model.max_age_days)

    def notify(self, at: At) -> tuple[str, str, str] | None:
        checked = check(NotifyFields, at)
        if checked is None:
            return None
        model, keys = checked.model, checked.given
        if "report_dir" not in keys:
            at.child("report_dir").report("missing: the directory (on the worker) for the report files", at=at)
            return None
        if "webhook" in keys and "webhook_env" in keys:
            at.report("give webhook or webhook_env, not both")
            return None
        if checked.invalid or model.report_dir is None:
            return None
        report_dir = str((self.base_dir / Path(model.report_dir).expanduser()).resolve())
        return report_dir, model.webhook or "", model.webhook_env or ""

    # -- the fleet

    def fleet(self, root: At, sections: dict[str, Any], invalid: frozenset[str]) -> _Fleet | None:
        """VMs, selectors and rollout policy, from this file or from its manifest."""
        rollout_given: dict[str, Given] = {}
        if "rollout" in sections:
            rollout_given = read_rollout(root.child("rollout"))
            if "name" in rollout_given:
                named = rollout_given.pop("name")
                self.problems.add(
                    named.source,
                    named.line,
                    "rollout.name",
                    "not used by a campaign: each run's rollout is named <campaign name>-<action time>",
                )
        if "manifest" in sections:
            here = [k for k in _FLEET_KEYS if k in sections]
            if here:
                root.child(here[0]).report(
                    "with manifest, the fleet (vms, selectors, defaults) comes from the manifest; edit it there",
                    key=True,
                )
                return None
            return None if "manifest" in invalid else self.from_manifest(root.child("manifest"), rollout_given)
        if "vms" not in sections and "selectors" not in sections:
            root.child("selectors").report(
                "no fleet: give selectors or vms (as in a manifest), or a manifest path", at=root
            )
            return None
        rollout = rollout_policy(rollout_given, root)
        defaults: Settings = {}
        defaults_at = root.child("defaults") if "defaults" in sections else root
        if "defaults" in sections:
            read = read_defaults(defaults_at, 1)
            if read is None:
                return None
            defaults = read
        vms = self.entries(root.child("vms"), "vms" in sections and "vms" not in invalid)
        selectors = self.entries(root.child("selectors"), "selectors" in sections and "selectors" not in invalid)
        if not vms and not selectors:
            root.child("selectors").report("no fleet: the vms and selectors lists are empty", at=root)
            return None
        defaults = collapse_missing_vault(defaults, vms + selectors, defaults_at)
        return read_vms(vms, defaults), read_selectors(selectors, defaults), rollout, root.doc.source

    @staticmethod
    def entries(at: At, ok: bool) -> list[At]:
        return [at.child(i) for i in range(len(at.raw))] if ok else []

    def from_manifest(self, at: At, rollout_given: dict[str, Given]) -> _Fleet | None:
        text = str(at.raw)
        path = (self.base_dir / Path(text).expanduser()).resolve()
        try:
            manifest = load_manifest(path)
        except ManifestError as error:
            at.report(f"the manifest {text} is not valid (its problems follow)")
            self.problems.extend(error.problems)
            return None
        valid = {k: g.value for k, g in rollout_given.items() if g.value is not INVALID}
        rollout = replace(manifest.rollout, **valid)
        deadline = rollout_given.get("encryption_deadline_s") or rollout_given.get("poll_interval_s")
        if deadline is not None and rollout.encryption_deadline_s <= rollout.poll_interval_s:
            self.problems.add(
                deadline.source,
                deadline.line,
                deadline.field,
                "rollout.encryption_deadline must be longer than poll_interval",
            )
        return manifest.vms, manifest.selectors, rollout, str(path)

    @staticmethod
    def check_reenable_confirmed(at: At, vms: list[ResolvedVm], selectors: list[Selector]) -> None:
        """A rotation re-enables ADE, which R-NEW-1 lets adeflow do only on the operator's standing word."""
        settings = [vm.settings for vm in vms] + [s.settings for s in selectors]
        if any(NEW_DISK_CONFIRMATION not in s.confirmations for s in settings):
            at.report(
                "rotate-kek re-enables ADE with a new KEK, which also picks up any new data disk (R-NEW-1): add "
                f"{NEW_DISK_CONFIRMATION} to defaults.confirmations (every VM and selector needs it) once data disks "
                "are formatted, mounted and in /etc/fstab"
            )
