"""One vocabulary (``adeflow/domain/vocabulary.py``): reason codes are kebab-case constants that the activities and
workflows use rather than spell, the search attributes registered are the ones the workflows set, and a backup
waiver counts only with a statement (R-BAK-2)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from adeflow.domain import rules, vocabulary
from adeflow.domain.model import BackupWaiver
from adeflow.domain.vocabulary import Reason
from adeflow.inputs.settings import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def reason_codes() -> dict[str, str]:
    return {name: value for name, value in vars(Reason).items() if name.isupper()}


def test_reason_codes_are_kebab_case_and_distinct() -> None:
    codes = reason_codes()
    assert codes and [v for v in codes.values() if not KEBAB.match(v)] == []
    assert len(set(codes.values())) == len(codes)


def _calls(folder: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def test_activities_and_workflows_use_reason_constants_not_spelled_strings() -> None:
    """An ``ApplicationError(type="...")`` or ``StepFailed("...", ...)`` spelled in place drifts from the others."""
    spelled = [
        where
        for folder in ("activities", "workflows")
        for where, call in _calls(folder)
        if (
            _name(call.func) == "ApplicationError"
            and any(k.arg == "type" and isinstance(k.value, ast.Constant) for k in call.keywords)
        )
        or (_name(call.func) == "StepFailed" and call.args and isinstance(call.args[0], ast.Constant))
    ]
    assert spelled == [], f"reason codes spelled in place (use adeflow.domain.vocabulary.Reason): {spelled}"


def test_registered_search_attributes_are_the_vocabulary() -> None:
    """What the dev server, the compose set-up, ``worker --check`` and the tests register is the vocabulary's list."""
    assert SEARCH_ATTRIBUTES is vocabulary.SEARCH_ATTRIBUTES


def test_keyword_attributes_fit_sql_visibility() -> None:
    """SQL visibility (the compose stack's PostgreSQL) refuses an eleventh custom Keyword attribute."""
    keywords = [name for name, kind in SEARCH_ATTRIBUTES.items() if kind == "Keyword"]
    assert vocabulary.RULE in keywords
    assert len(keywords) <= vocabulary.MAX_KEYWORD_ATTRIBUTES, keywords


def test_workflows_name_search_attributes_only_through_the_vocabulary() -> None:
    spelled = [
        where
        for where, call in _calls("workflows")
        if _name(call.func).startswith("for_")
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and str(call.args[0].value).startswith("Ade")
    ]
    assert spelled == []


@pytest.mark.parametrize(
    ("waiver", "on_record"),
    [
        (None, False),
        (BackupWaiver("ops", ""), False),
        (BackupWaiver("ops", "   "), False),
        (BackupWaiver("", "Azure Backup job 42 covers it"), False),
        (BackupWaiver("ops", "Azure Backup job 42 covers it"), True),
    ],
)
def test_r_bak_2_a_waiver_counts_only_with_operator_and_statement(waiver: BackupWaiver | None, on_record: bool) -> None:
    assert rules.waiver_on_record(waiver) is on_record
    refusal = rules.backup_waiver_missing()
    assert (refusal.rule, refusal.reason) == ("R-BAK-2", "backup-waiver-missing")
