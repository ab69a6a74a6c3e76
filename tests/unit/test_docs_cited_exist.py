"""The repository carries every document its code cites: each ``docs/<file>`` named in product or test sources
exists (with the cited section's heading), and no product source cites a document by a path that climbs out of the
repository or is absolute: a fresh clone has nothing there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("adeflow", "workflows", "activities", "worker", "azuresim", "benchmarks")
TEXT = {".py", ".yaml", ".yml", ".json", ".md", ".toml", ".cfg", ".txt", ".sh"}

CITATION = re.compile(r"(?<![\w./-])docs/(?P<path>[\w./-]*\w)(?:'s)?(?:\s+§(?P<section>[0-9a-z]+))?")
"""``docs/arm-reference.md §d.1``: the file, and the top level of the section if one is named (``d``)."""
OUTSIDE = re.compile(
    r"(?<![\w.])(?:\.\./)+[\w./-]*(?:\.(?:md|json|txt)\b|reference\b)"
    r"|(?<![\w.:/<>{}])/(?:[\w-]+/)+[\w-]+\.(?:md|json|txt)\b"
)
"""A document (or a ``reference`` folder) reached by climbing above the repository, or by an absolute path; a
manifest path relative to its campaign file (``../fleets/prod.yaml``) is input, not a citation."""


def sources(*tops: str) -> list[Path]:
    return [
        path
        for top in tops
        for path in sorted((ROOT / top).rglob("*"))
        if path.is_file() and path.suffix in TEXT and "__pycache__" not in path.parts
    ]


def citations() -> dict[tuple[str, str | None], list[str]]:
    """(cited path, top-level section or None) -> where it is cited, as ``file:line``."""
    found: dict[tuple[str, str | None], list[str]] = {}
    for path in sources(*PRODUCT, "tests"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in CITATION.finditer(line):
                key = (match["path"], match["section"])
                found.setdefault(key, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


def has_section(document: Path, top: str) -> bool:
    """A Markdown heading for the section, as these documents number them: ``## 5.``, ``## d.``, ``### d.1``."""
    return re.search(rf"^#+ {re.escape(top)}[. ]", document.read_text(encoding="utf-8"), re.MULTILINE) is not None


def test_the_scan_finds_the_citations() -> None:
    cited = {path for path, _ in citations()}
    assert {"arm-reference.md", "original-design.md", "ade-linux-rules.md", "perf-baseline.md"} <= cited


def test_every_cited_document_exists() -> None:
    missing = {f"docs/{path}": where for (path, _), where in citations().items() if not (ROOT / "docs" / path).exists()}
    assert missing == {}, f"cited but not in docs/: {missing}"


def test_every_cited_section_has_a_heading() -> None:
    missing = {
        f"docs/{path} §{section}": where
        for (path, section), where in citations().items()
        if section and (ROOT / "docs" / path).is_file() and not has_section(ROOT / "docs" / path, section)
    }
    assert missing == {}, f"cited sections without a heading: {missing}"


def test_the_outside_pattern_tells_a_document_outside_from_an_arm_path() -> None:
    outside = ["see ../notes/reference/rules.md", "from /srv/team/reference/rules.md", "in ../team/reference"]
    inside = ["docs/arm-reference.md §d", "PUT .../disks/{new}", "manifest: ../fleets/prod.yaml", "/subscriptions/x"]
    assert [bool(OUTSIDE.search(text)) for text in outside] == [True] * len(outside)
    assert [bool(OUTSIDE.search(text)) for text in inside] == [False] * len(inside)


def test_no_product_source_points_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources(*PRODUCT)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert outside == [], "product sources must cite docs/ in the repository:\n" + "\n".join(outside)
