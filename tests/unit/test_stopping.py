"""Ctrl-C and SIGTERM end a long-running command alike (``adeflow.cli.stopping``): its clean-up runs, and for
``demo --keep-running`` the signal is the normal end, so the command returns (exit 0) instead of failing."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from adeflow.cli.demo import _until_cancelled
from adeflow.cli.stopping import Stopped, run_until_signal


async def _signalled(signum: int, work_done: list[str]) -> str:
    asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signum)
    try:
        await asyncio.sleep(30)
        return "not stopped"
    finally:
        work_done.append("cleaned up")


async def _kept_running(signum: int) -> str:
    asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signum)
    await _until_cancelled()
    return "summary"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_the_command_after_its_clean_up(signum: int) -> None:
    cleaned: list[str] = []
    with pytest.raises(Stopped) as stopped:
        run_until_signal(_signalled(signum, cleaned))
    assert stopped.value.signum == signum and cleaned == ["cleaned up"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_keep_running_ends_normally_on_ctrl_c_or_sigterm(signum: int) -> None:
    assert run_until_signal(_kept_running(signum)) == "summary"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the process's handlers are back
