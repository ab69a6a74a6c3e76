"""Secrets read from files (``*_FILE`` settings): refused when anyone but the owner may read or change them.

A key file that the group or everyone can read hands the Temporal API key, or the payload keys that open every
history, to any local user or container sharing the mount; starting anyway would hide that. The check runs where
the file is read, before its content is used, and the error names the variable, the file and the fix.
"""

from __future__ import annotations

import stat
from pathlib import Path

OTHERS = stat.S_IRWXG | stat.S_IRWXO
"""Permission bits for the group and for everyone else: a secret file must have none of them (mode 600 or 400)."""


class SecretFileError(ValueError):
    """A secret file cannot be read, or is open to the group or to others."""


def check_private(path: Path, variable: str, holds: str) -> None:
    """Refuse a file that holds secrets (``holds`` names them) when its group or others have any access."""
    mode = path.stat().st_mode
    if mode & OTHERS:
        raise SecretFileError(
            f"{variable}={path} holds {holds} and is accessible to its group or to others (mode "
            f"{stat.S_IMODE(mode):o}): chmod 600 {path}, or move the secret to its own *_FILE setting"
        )


def read_secret_file(path: Path | str, variable: str) -> str:
    """The file's text, after checking that only its owner has access (``chmod 600``)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SecretFileError(f"{variable}={path}: cannot read it: {exc.strerror}") from None
    if mode & OTHERS:
        raise SecretFileError(
            f"{variable}={path} is accessible to its group or to others (mode {stat.S_IMODE(mode):o}); a secret "
            f"file must be readable by its owner only: chmod 600 {path}"
        )
    try:
        return path.read_text()
    except OSError as exc:
        raise SecretFileError(f"{variable}={path}: cannot read it: {exc.strerror}") from None
