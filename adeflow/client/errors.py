"""The errors the CLI turns into one line and an exit code (``adeflow.cli.main.main``, README "Exit codes").

Every client-layer service raises one of these, in words for the operator (what failed, which VM or rollout, what
to check), so that the CLI has one mapper and no command prints a traceback.
"""

from __future__ import annotations


class OperationFailed(Exception):
    """The operation failed, was refused, or its service is unreachable: exit 1."""


class BadInput(ValueError):
    """The command's input or configuration is wrong, nothing was started: exit 2."""
