"""Every rule of ade-linux-rules.md that software can check is named by at least one test; the rest are listed
here with the reason software cannot check them (so a new rule cannot slip in untested)."""

from __future__ import annotations

import re
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "docs" / "ade-linux-rules.md"
"""The rules digest in the repository: the rule ids the product, its errors and its tests cite."""
TESTS = Path(__file__).resolve().parents[1]

NOT_CHECKABLE = {
    "R-NEW-3": "the data drive being unavailable while it encrypts is the guest's business; runs say so",
    "R-EFA-3": "fstab contents before a restart live in the guest; the operator confirms (R-EFA acknowledgement)",
    "R-EFA-5": "a layout recommendation (LVM-on-crypt), not a condition of a run",
    "R-LIM-4e": "an on-premises key manager cannot be named: only Azure Key Vault ids are accepted (R-ENA-3)",
    "R-LIM-4k": "moving a VM to another subscription or region is not an operation adeflow performs",
    "R-LIM-4l": "deploying VMs from images or snapshots of encrypted VMs is not an operation adeflow performs",
}


def rule_ids() -> list[str]:
    text = RULES.read_text()
    ids = set(re.findall(r"\bR-[A-Z]{3}-\d\b", text))
    ids |= {f"R-LIM-4{letter}" for letter in re.findall(r"(?:^|\s)([a-y])\.\s", text.split("R-LIM-4", 1)[1])}
    return sorted(ids - {"R-LIM-4"})  # cited by its letters only ("cite one as R-LIM-4a ... R-LIM-4y")


def named_in_tests(rule: str) -> list[str]:
    """Test files that name the rule: as written (``R-LIM-4w``) or in a test name (``r_lim_4w``)."""
    as_written = re.compile(re.escape(rule) + r"(?![0-9a-z])", re.IGNORECASE)
    in_name = re.compile(r"def test_\w*" + rule.lower().replace("-", "_") + r"(?![0-9a-z])")
    return [
        str(path.relative_to(TESTS))
        for path in sorted(TESTS.rglob("test_*.py"))
        if path.name != Path(__file__).name and (as_written.search(text := path.read_text()) or in_name.search(text))
    ]


def test_the_rule_list_is_read_whole() -> None:
    ids = rule_ids()
    assert {"R-PRE-1", "R-BAK-2", "R-LIM-4a", "R-LIM-4y", "R-VHD-1", "R-DIS-5"} <= set(ids)
    assert len([i for i in ids if i.startswith("R-LIM-4") and len(i) == 8]) == 25


def test_every_checkable_rule_is_named_by_a_test() -> None:
    untested = [rule for rule in rule_ids() if rule not in NOT_CHECKABLE and not named_in_tests(rule)]
    assert untested == [], f"rules without a test that names them: {untested}"


def test_rules_marked_not_checkable_exist() -> None:
    assert set(NOT_CHECKABLE) <= set(rule_ids())
