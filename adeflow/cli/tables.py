"""The CLI's tables (issue 15): a ``rich`` table on a terminal, plain aligned columns everywhere else.

A table written to a pipe or a file is grepped, diffed and pasted into tickets, so it has no ANSI codes, no box
drawing, no trailing blanks, and never wraps: rich would fold long cells at its default 80 columns.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Collection, Iterable, Sequence

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

PLAIN_WIDTH = 100_000
"""Wide enough that no row of a plain table ever wraps."""


def table_text(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, terminal: bool, right: Collection[str] = ()
) -> str:
    """``rows`` under ``headers`` (the ``right`` ones right-aligned): on a terminal with a rule under the bold
    header, else plain columns two spaces apart."""
    table = Table(
        box=box.SIMPLE_HEAD if terminal else None,
        show_edge=False,
        pad_edge=False,
        header_style="bold" if terminal else "",
        padding=(0, 1),
    )
    for header in headers:  # a narrow terminal folds a long name onto a second line, never cuts it: names get copied
        table.add_column(header, justify="right" if header in right else "left", overflow="fold", no_wrap=not terminal)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: a "[...]" in a cell is not rich markup
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=shutil.get_terminal_size().columns if terminal else PLAIN_WIDTH,
        force_terminal=terminal,
        color_system="auto" if terminal else None,
        highlight=False,
        emoji=False,
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def echo_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, err: bool = False, right: Collection[str] = ()
) -> None:
    """Print a table to stdout (or stderr), rich only if that stream is a terminal."""
    stream = sys.stderr if err else sys.stdout
    click.echo(table_text(headers, rows, terminal=stream.isatty(), right=right), err=err)
