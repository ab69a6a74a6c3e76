"""Recorded histories replay with the current workflow code: a change that would break running workflows
(a reordered activity, a removed timer, a new step without ``workflow.patched``) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.support.standins import StandInVmRun
from workflows.registry import WORKFLOWS, workflow_runner

pytestmark = pytest.mark.replay
HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_representative_run_is_recorded() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "encrypt",
        "refuse",
        "disable",
        "remove-refused",
        "rollout-continued-as-new",
        "rollout-last-run",
        "create-from-vhd",
        "campaign-audit",
        "migrate",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays_with_current_code(path: Path) -> None:
    replayer = Replayer(workflows=list(WORKFLOWS), workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


async def test_replay_catches_changed_workflow_code() -> None:
    """The check has teeth: other code under the recorded type name does not replay."""
    replayer = Replayer(workflows=[StandInVmRun], workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(
        load(HISTORIES[[p.stem for p in HISTORIES].index("encrypt")]), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, NondeterminismError)
