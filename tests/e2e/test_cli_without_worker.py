"""``adeflow`` against a real Temporal dev server with NO worker polling (issue 14).

A closed rollout is read from its result and memo, so ``rollout status`` and ``rollout report`` work without a
worker; a running rollout, whose progress only a worker can answer, gets one clear line ("no worker is polling task
queue X: start one with ...") and exit 1; no command prints a traceback. The CLI runs as an operator runs it: the
venv's ``adeflow`` executable, in a subprocess (README: exit 0 success, 1 the operation failed, 2 bad input).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from adeflow.cli.main import cli
from adeflow.client.rollouts import start_rollout
from adeflow.domain.fleet import RolloutPolicy, VmSettings
from adeflow.domain.fleet_query import VmQuery
from adeflow.domain.model import VmRef
from adeflow.domain.rollout import RolloutStage, build_rollout_input
from azuresim.server import SimServer
from tests.support.chaos import eventually
from tests.support.fleets import SUB, VAULT_ID, fleet_dict, vm
from tests.support.servers import Run, SimFactory, new_worker
from tests.support.standins import StandInVmRun
from workflows.disable_encryption import DisableInput, disable_workflow_id
from workflows.fleet_rollout import FleetRolloutWorkflow
from workflows.registry import workflow_runner

pytestmark = pytest.mark.e2e

SETTINGS = VmSettings(key_vault_id=VAULT_ID)
ULTRA = [{"lun": 0, "size_gb": 8, "sku": "UltraSSD_LRS"}]


async def test_completed_rollout_status_and_report_come_from_its_result_without_a_worker(
    dev_env: WorkflowEnvironment,
    make_sim: SimFactory,
    azure_for: Callable[[SimServer], AzureClients],
    adeflow: Run,
    tmp_path: Path,
) -> None:
    sim = make_sim(fleet_dict([vm("web-01"), vm("ultra-01", data_disks=ULTRA, tags={"ade": "yes"})]), 3600)
    selector = VmQuery(subscription_id=SUB, resource_group="rg-web", tags={"ade": "yes"}, source="fleet.yaml:9")
    rollout_id = f"done-{uuid.uuid4().hex[:6]}"
    request = build_rollout_input(
        rollout_id,
        RolloutPolicy(concurrency=2, canary=1, poll_interval_s=1),
        [(VmRef(SUB, "rg-web", "web-01"), SETTINGS)],
        [(selector, SETTINGS)],
    )
    async with new_worker(dev_env, azure_for(sim)) as worker:
        result = await (await start_rollout(dev_env.client, request, worker.task_queue)).result()
    assert (result.stage, result.counts["encrypted"], result.counts["refused"]) == (RolloutStage.COMPLETED, 1, 1)
    # The worker has stopped: nothing answers a query on its task queue any more.

    status = await adeflow("rollout", "status", rollout_id, queue=worker.task_queue)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{rollout_id}: completed (workflow completed)")
    assert "encrypted 1" in status.stdout and "refused 1" in status.stdout and "failed 0" in status.stdout

    report = await adeflow("rollout", "report", rollout_id, "--out", str(tmp_path), queue=worker.task_queue)
    assert report.returncode == 0, report.stderr
    written = json.loads((tmp_path / f"{rollout_id}.json").read_text())
    assert written["stage"] == "completed"
    assert {(row["vm"], row["outcome"]) for row in written["vms"]} == {("web-01", "encrypted"), ("ultra-01", "refused")}
    assert written["selectors"][0].startswith("fleet.yaml:9: ")  # from the memo the rollout left
    assert "- Selector fleet.yaml:9: " in (tmp_path / f"{rollout_id}.md").read_text()

    listed = await adeflow("rollout", "list", queue=worker.task_queue)  # a pipe: plain columns (issue 15)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["ROLLOUT", "STATUS", "STARTED"]
    row = next(line for line in listed.stdout.splitlines() if line.startswith(f"{rollout_id} "))
    assert row.split()[1] == "completed"
    assert "\x1b" not in listed.stdout and "─" not in listed.stdout


async def test_running_rollout_without_a_worker_says_so_and_exits_1(
    dev_env: WorkflowEnvironment, adeflow: Run, tmp_path: Path
) -> None:
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    rollout_id = f"idle-{uuid.uuid4().hex[:6]}"
    request = build_rollout_input(rollout_id, RolloutPolicy(), [(VmRef(SUB, "rg-web", "web-01"), SETTINGS)])
    await start_rollout(dev_env.client, request, queue)

    expected = f"no worker is polling task queue {queue}: start one with `adeflow worker`"
    for args in (
        ("rollout", "status", rollout_id),
        ("rollout", "report", rollout_id, "--out", str(tmp_path / "report")),
        ("rollout", "watch", rollout_id),
        ("rollout", "pause", rollout_id, "--operator", "alice"),
        ("rollout", "skip", rollout_id, "web-01", "--operator", "alice"),
    ):
        done = await adeflow(*args, queue=queue)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
    assert not (tmp_path / "report").exists()


async def test_running_rollout_whose_worker_stopped_says_so_within_the_query_timeout(
    dev_env: WorkflowEnvironment, adeflow: Run
) -> None:
    """The server lists a stopped worker as a poller for minutes: the query is tried, and given up after 15 s."""
    web = VmRef(SUB, "rg-web", "web-01")
    policy = RolloutPolicy(poll_interval_s=3600)
    request = build_rollout_input(f"orphan-{uuid.uuid4().hex[:6]}", policy, [(web, SETTINGS)])
    async with Worker(
        dev_env.client,
        task_queue=f"stopped-{uuid.uuid4().hex[:8]}",
        workflows=[FleetRolloutWorkflow, StandInVmRun],
        workflow_runner=workflow_runner(),
    ) as worker:
        handle = await start_rollout(dev_env.client, request, worker.task_queue)

        async def vm_running() -> bool:
            return (await handle.query(FleetRolloutWorkflow.progress)).counts["running"] == 1

        await eventually(vm_running, "the rollout's VM run started")
    started = time.monotonic()
    done = await adeflow("rollout", "status", request.rollout_id, queue=worker.task_queue)
    assert done.returncode == 1, done.stdout
    assert "no worker answered within 15 s" in done.stderr
    assert f"no worker is polling task queue {worker.task_queue}: start one with" in done.stderr
    assert time.monotonic() - started < 60


async def test_unknown_rollout_is_one_line_and_exit_1(adeflow: Run) -> None:
    done = await adeflow("rollout", "status", "no-such-rollout")
    assert done.returncode == 1
    assert "no rollout no-such-rollout (no workflow rollout/no-such-rollout" in done.stderr


async def test_rollout_start_without_a_worker_warns(adeflow: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "fleet.yaml"
    web = VmRef(SUB, "rg-web", "web-01").resource_id
    name = f"warn-{uuid.uuid4().hex[:6]}"
    manifest.write_text(f"version: 1\nrollout: {{name: {name}}}\nvms:\n  - {{id: {web}, key_vault_id: {VAULT_ID}}}\n")
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    done = await adeflow("rollout", "start", str(manifest), queue=queue)
    assert done.returncode == 0, done.stderr
    assert f"warning: no worker is polling task queue {queue}" in done.stderr


# --- vm disable --poll-interval (as vm encrypt's) ----------------------------------------------------------------


async def test_vm_disable_takes_the_poll_interval_into_its_run(dev_env: WorkflowEnvironment, adeflow: Run) -> None:
    ref = VmRef(SUB, "rg-web", f"dis-{uuid.uuid4().hex[:6]}")
    done = await adeflow("vm", "disable", ref.key, "--poll-interval", "60", queue=f"nobody-{uuid.uuid4().hex[:8]}")
    assert done.returncode == 0, done.stderr
    history = await dev_env.client.get_workflow_handle(disable_workflow_id(ref)).fetch_history()
    payloads: list[Payload] = list(history.events[0].workflow_execution_started_event_attributes.input.payloads)
    [started] = await dev_env.client.data_converter.decode(payloads, [DisableInput])
    assert (started.vm, started.poll_interval_s) == (ref, 60.0)


@pytest.mark.parametrize("verb", ["disable", "encrypt"])
@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "259200", "often"])
def test_bad_poll_interval_is_bad_input_for_disable_as_for_encrypt(verb: str, value: str) -> None:
    """Exit 2 before anything connects; both verbs validate with the one option helper (``poll_interval_option``)."""
    extra = ["--key-vault-id", VAULT_ID] if verb == "encrypt" else []
    done = CliRunner().invoke(cli, ["vm", verb, f"{SUB}/rg-web/web-01", *extra, "--poll-interval", value])
    assert done.exit_code == 2, (verb, value, done.output)
    assert "Invalid value for '--poll-interval'" in done.output


def test_disable_and_encrypt_document_the_same_poll_interval() -> None:
    def option_help(verb: str) -> str:
        text = CliRunner().invoke(cli, ["vm", verb, "--help"], terminal_width=200).output
        return " ".join(text.split("--poll-interval", 1)[1].split("\n  --", 1)[0].split())

    assert option_help("disable") == option_help("encrypt")
    assert option_help("disable").startswith(
        "DURATION Between encryption status reads: seconds, or 30s, 5m, 1h (R-ENA-4;"
    )
    assert "above 0 and below the run's deadline (259200 s). [default: 300]" in option_help("disable")
