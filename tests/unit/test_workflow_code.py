"""Workflow code has no ``assert``: a failed assert fails the workflow task, and a real worker retries a failing
workflow task for ever, so the run sits RUNNING with nothing to show an operator (the time-skipping test
environment turns it into a workflow failure, which hides the hang). A broken precondition is a refusal (with its
rule id) or a ``StepFailed``/``ApplicationError`` that ends the run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_CODE = (ROOT / "workflows", ROOT / "adeflow" / "domain")
"""The workflows and the pure domain they call (rules, plans, the rollout book): both run inside workflow tasks."""


def test_no_assert_statement_in_workflow_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for folder in WORKFLOW_CODE
        for path in sorted(folder.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Assert)
    ]
    assert found == [], f"assert in workflow code (use a refusal or StepFailed): {found}"
