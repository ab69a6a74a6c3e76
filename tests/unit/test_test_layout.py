"""Issue 15: helpers shared by tests live in tests/support; no module imports a test module or a conftest.

Importing a test module re-runs its module-level code and drags its fixtures and marks along; a conftest is
pytest's to load, and importing it makes a second copy of the module. Fixtures stay in conftest.py files; what test
modules share is a plain import from tests/support, which imports nothing from the tests around it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    """Full names of the modules an import statement reads (relative imports resolved against ``importer``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".")[: len(importer.split(".")) - node.level + (1 if is_package else 0)]
        base = ".".join([*package, base]) if base else ".".join(package)
    # ``from tests.workflows import test_x`` names the module in the import list.
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def layout_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Imports of ``module`` (a module under tests/) that break the layout: of a test module or a conftest from
    anywhere, and of anything under tests/ but tests/support from tests/support."""
    in_support = module == "tests.support" or module.startswith("tests.support.")
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in _imported(node, module, is_package):
            parts = name.split(".")
            if parts[-1] == "conftest" or (parts[0] == "tests" and parts[-1].startswith("test_")):
                found.append(f"{module}:{node.lineno} imports {name}")
            elif in_support and parts[0] == "tests" and parts[:2] != ["tests", "support"] and len(parts) > 1:
                found.append(f"{module}:{node.lineno} (tests/support) imports {name}")
    return found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("tests.unit.test_a", "from tests.conftest import SUB"),
        ("tests.sim.test_a", "from tests.sim.conftest import Sim"),
        ("tests.sim.test_a", "from .conftest import Sim"),
        ("tests.sim.test_a", "from tests.sim.test_conformance import shape_errors"),
        ("tests.sim.test_a", "from . import test_conformance"),
        ("tests.histories.record", "def f():\n    from tests.workflows.test_campaign import campaign"),
        ("tests.e2e.test_a", "import tests.workflows.test_encrypt_vm"),
        ("tests.support.fleets", "from tests.workflows.standins import StandInVmRun"),
        ("tests.support.fleets", "from ..workflows import standins"),
    ],
)
def test_the_check_finds_each_kind_of_cross_import(module: str, source: str) -> None:
    assert layout_violations(module, source)


@pytest.mark.parametrize(
    "source",
    [
        "from tests.support.fleets import SUB",
        "from .fleets import SUB",
        "import tests.support.servers",
        "import pytest",
    ],
)
def test_the_check_lets_support_imports_through(source: str) -> None:
    assert layout_violations("tests.support.campaigns", source) == []
    assert layout_violations("tests.workflows.test_a", source.replace("from .", "from tests.support.")) == []


def test_no_module_under_tests_imports_a_test_module_or_a_conftest() -> None:
    found = [
        violation
        for path in sorted(TESTS.rglob("*.py"))
        for violation in layout_violations(
            _module_name(path), path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"
        )
    ]
    assert found == [], "move shared helpers to tests/support (issue 15):\n" + "\n".join(found)
