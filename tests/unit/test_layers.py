"""The layers are folders and imports only run downward (docs/DESIGN.md, "Layers").

domain (pure) <- reports, inputs <- activities, workflows <- client <- cli, worker. The simulator and the product
never import each other, except the demo/dev commands, which start the simulator lazily (inside a function).
A short AST walk over every product module: a forbidden import fails here with the file, the line and the rule.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("adeflow", "workflows", "activities", "worker")
SIMULATOR_COMMANDS = {"adeflow/cli/main.py"}
"""The ``sim`` command group may load the simulator, inside the command only."""
DEMO_MODULES = {"adeflow/cli/demo.py"}
"""The demo's own module starts the simulator, and runs the worker and the workflows in process (the embedded
default); the CLI imports it only inside the ``demo`` command (checked below)."""

DOMAIN_THIRD_PARTY: frozenset[str] = frozenset()
"""The domain is stdlib only: payloads, rules and plans that run in the workflow sandbox and in unit tests."""


@dataclass(frozen=True)
class Import:
    source: str
    line: int
    module: str
    lazy: bool
    """Inside a function (runs when called, not when the module is imported)."""


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "adeflow" and len(parts) > 1 and parts[1] in ("domain", "reports", "inputs", "client", "cli"):
        return f"adeflow.{parts[1]}"
    return parts[0]


FORBIDDEN: dict[str, set[str]] = {
    "adeflow.domain": {
        "adeflow.reports",
        "adeflow.inputs",
        "adeflow.client",
        "adeflow.cli",
        "workflows",
        "activities",
        "worker",
        "azuresim",
    },
    "adeflow.reports": {
        "adeflow.inputs",
        "adeflow.client",
        "adeflow.cli",
        "workflows",
        "activities",
        "worker",
        "azuresim",
    },
    "adeflow.inputs": {"adeflow.client", "adeflow.cli", "workflows", "activities", "worker", "azuresim"},
    "activities": {"adeflow.client", "adeflow.cli", "workflows", "worker", "azuresim"},
    "workflows": {"adeflow.client", "adeflow.cli", "adeflow.inputs", "worker", "azuresim"},
    "adeflow.client": {"adeflow.cli", "worker", "azuresim"},
    "worker": {"adeflow.cli", "azuresim"},
    "adeflow.cli": {"azuresim", "workflows", "activities"},  # the CLI reaches them through adeflow.client
    "azuresim": {
        "adeflow",
        "adeflow.domain",
        "adeflow.reports",
        "adeflow.inputs",
        "adeflow.client",
        "adeflow.cli",
        "workflows",
        "activities",
        "worker",
    },
}


def _sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    source = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    lazy_lines = {id(child) for f in functions for child in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, node.lineno, alias.name, id(node) in lazy_lines)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "adeflow" else [node.module]
            for name in names:
                yield Import(source, node.lineno, name, id(node) in lazy_lines)


def _own_layer(source: str) -> str:
    return _layer(source.removesuffix(".py").replace("/", "."))


def _violations() -> list[str]:
    found = []
    for path in _sources(*PRODUCT, "azuresim"):
        for imp in _imports(path):
            own, target = _own_layer(imp.source), _layer(imp.module)
            if target not in FORBIDDEN.get(own, set()):
                continue
            if imp.source in DEMO_MODULES and target in ("azuresim", "workflows", "activities"):
                continue
            if target == "azuresim" and imp.lazy and imp.source in SIMULATOR_COMMANDS:
                continue
            found.append(f"{imp.source}:{imp.line}: {own} must not import {imp.module}")
    return found


def test_imports_only_run_downward() -> None:
    assert _violations() == []


def test_the_domain_is_stdlib_only() -> None:
    stdlib = sys.stdlib_module_names
    found = [
        f"{imp.source}:{imp.line}: {imp.module} is not the standard library"
        for path in _sources("adeflow/domain")
        for imp in _imports(path)
        if imp.module.split(".")[0] not in stdlib
        and _layer(imp.module) != "adeflow.domain"
        and imp.module.split(".")[0] not in DOMAIN_THIRD_PARTY
    ]
    assert found == []


def test_the_cli_reaches_workflows_and_activities_only_through_the_client() -> None:
    """Issue 15: the verbs go through adeflow.client (vm_runs, azure_reads, rollouts, session); only the demo,
    which embeds a worker, imports workflows itself."""
    assert {"workflows", "activities"} <= FORBIDDEN["adeflow.cli"]
    found = [
        f"{imp.source}:{imp.line}: {imp.module}"
        for path in _sources("adeflow/cli")
        for imp in _imports(path)
        if _layer(imp.module) in ("workflows", "activities") and imp.source not in DEMO_MODULES
    ]
    assert found == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The walk itself works: an upward import in a domain-shaped module is reported."""
    module = tmp_path / "probe.py"
    module.write_text("from workflows.encrypt_vm import EncryptVmWorkflow\n\ndef f():\n    import azuresim\n")
    imports = list(_imports(module))
    assert [(i.module, i.lazy) for i in imports] == [("workflows.encrypt_vm", False), ("azuresim", True)]
    assert "workflows" in FORBIDDEN["adeflow.domain"]


@pytest.mark.parametrize("module", ["worker.main", "worker.__main__", "adeflow.cli.main"])
def test_importing_the_worker_or_the_cli_loads_no_simulator(module: str) -> None:
    probe = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'azuresim'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
