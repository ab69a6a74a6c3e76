"""One line of ``adeflow worker --check``: a check's verdict, and the commands that fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str
    detail: str
    fix: tuple[str, ...] = ()
    """Commands to run in order; the first is printed after ``fix:``, the others after ``then:``."""

    def render(self) -> str:
        lines = [f"{'ok  ' if self.ok else 'FAIL'}  {self.subject}: {self.detail}"]
        lines += [f"      {'then' if i else 'fix'}: {command}" for i, command in enumerate(self.fix)]
        return "\n".join(lines)
