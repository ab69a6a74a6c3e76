"""A campaign's JSON report read back (``adeflow/reports/campaign_report.py`` writes it): each VM, its ADE state and
its path before ADE retires, for ``adeflow migrate plan`` and ``adeflow migrate readiness``.

An audit campaign is the natural source; every campaign kind's report carries the same per-VM columns, so any of
them is read. The file is machine-written, but the operator names it: a wrong file (not JSON, not a report, a row
whose state is unknown to this adeflow) is refused with every problem at once and exit code 2, nothing written.
Plain ``json`` (not the YAML reader with its line map): a 50,000-VM report is read in a blink.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from adeflow.domain import values
from adeflow.domain.campaign_plan.state import AdeState, RetirementPath
from adeflow.domain.migration.audit import AuditedVm, AuditReport
from adeflow.domain.model import VmRef

REPORT_HINT: Final = "expected a campaign report: the <run>.json that an audit campaign writes to its notify.report_dir"


class AuditReportError(Exception):
    """A report that cannot be planned from; ``problems`` lists everything wrong with it."""

    exit_code: Final = 2

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


def load_audit_report(path: str | os.PathLike[str]) -> AuditReport:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise AuditReportError(source, [f"cannot read: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise AuditReportError(source, [f"not UTF-8 text: {error.reason}"]) from None
    return parse_audit_report(text, source)


def parse_audit_report(text: str, source: str = "<report>") -> AuditReport:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise AuditReportError(source, [f"line {error.lineno}: not JSON ({error.msg}); {REPORT_HINT}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("vms"), list):
        raise AuditReportError(source, [f"no list of VMs; {REPORT_HINT}"])
    problems: list[str] = []
    header = {key: _text(document, key, problems) for key in ("campaign", "kind", "run", "action_time")}
    vms = [vm for i, row in enumerate(document["vms"]) if (vm := _row(row, f"vms[{i}]", problems)) is not None]
    if problems:
        raise AuditReportError(source, problems)
    return AuditReport(header["campaign"], header["kind"], header["run"], header["action_time"], vms)


def _text(document: dict[str, Any], key: str, problems: list[str]) -> str:
    value = document.get(key, "")
    if not isinstance(value, str):
        problems.append(f"{key}: expected a string; got {values.kind_of(value)}")
        return ""
    return value


def _row(row: object, where: str, problems: list[str]) -> AuditedVm | None:
    if not isinstance(row, dict):
        problems.append(f"{where}: expected a VM row (an object); got {values.kind_of(row)}")
        return None
    found: list[str] = []

    def field(key: str, parse: Any) -> Any:
        try:
            return parse(row.get(key))
        except ValueError as exc:
            found.append(f"{where}.{key}: {exc}")
            return None

    subscription = field("subscription", values.parse_subscription_id)
    group = field("resource_group", lambda v: values.parse_name_segment(v, "a resource group name"))
    name = field("vm", lambda v: values.parse_name_segment(v, "a VM name"))
    state = field("state", lambda v: values.parse_choice(v, list(AdeState), case_sensitive=True))
    path = field("retirement", lambda v: values.parse_choice(v, list(RetirementPath), case_sensitive=True))
    reason = row.get("reason", "")
    problems.extend(found)
    if found:
        return None
    return AuditedVm(VmRef(subscription, group, name), state, path, reason if isinstance(reason, str) else "")
