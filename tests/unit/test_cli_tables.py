"""The CLI's tables (issue 15): rich on a terminal; in a pipe or a file, plain columns that grep, diff and paste."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from adeflow.cli.tables import echo_table, table_text

HEADERS = ("NAME", "RULE / REASON", "SIZE (GB)")
LONG = "x" * 300
ROWS = [("web-01", "R-PRE-1 os-unsupported", "30"), ("db-01", "[bold]not markup[/bold]", "1024"), ("a", LONG, "1")]
DRAWING = re.compile("[\u2500-\u257f]")
"""Box drawing characters."""


def test_a_table_for_a_pipe_is_plain_aligned_columns() -> None:
    lines = table_text(HEADERS, ROWS, terminal=False, right={"SIZE (GB)"}).splitlines()
    assert lines == [
        f"NAME    RULE / REASON{' ' * 287}  SIZE (GB)",
        f"web-01  R-PRE-1 os-unsupported{' ' * 278}         30",
        f"db-01   [bold]not markup[/bold]{' ' * 277}       1024",
        f"a       {LONG}          1",
    ]
    text = "\n".join(lines)
    assert "\x1b" not in text and not DRAWING.search(text)


def test_a_table_on_a_terminal_has_a_bold_header_and_a_rule_under_it() -> None:
    text = table_text(HEADERS, ROWS[:2], terminal=True)
    assert "\x1b[1m" in text and "─" in text
    assert "[bold]not markup[/bold]" in text


def test_a_table_printed_to_a_pipe_has_no_escape_codes() -> None:
    """CliRunner's output is not a terminal, like ``adeflow ... | grep``."""

    @click.command()
    def probe() -> None:
        echo_table(HEADERS, ROWS)
        echo_table(HEADERS, ROWS[:1], err=True)

    result = CliRunner().invoke(probe, [])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and not DRAWING.search(result.output)
    assert [line.split() for line in result.stdout.splitlines()][1:3] == [
        ["web-01", "R-PRE-1", "os-unsupported", "30"],
        ["db-01", "[bold]not", "markup[/bold]", "1024"],
    ]
    assert result.stderr.splitlines() == [
        "NAME    RULE / REASON           SIZE (GB)",
        "web-01  R-PRE-1 os-unsupported  30",
    ]
