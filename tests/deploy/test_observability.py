"""Logs and metrics of a real worker (``run_worker``: dev server, Prometheus runtime, interceptors) during one
encryption against the simulator: JSON log lines carry the run's identity, the bearer token appears nowhere, and
the worker's ``/metrics`` endpoint serves adeflow's metrics beside the SDK's."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import secrets
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.client import Client

from activities.azure.arm_metrics import arm_action
from adeflow.cli.devserver import DevServer, free_port
from adeflow.client.logging import configure_logging
from adeflow.domain.model import EncryptVmInput, Outcome, VmRef, VolumeType
from adeflow.inputs.settings import Settings, TelemetrySettings, TemporalSettings
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, fleet_dict
from worker.main import run_worker
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.metrics import VM_RUNS
from workflows.registry import WORKFLOWS

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

ROLLOUT_ID = "obs-rollout-1"
ACTIVITY_KEYS = {"workflow_id", "run_id", "activity", "vm", "subscription", "resource_group", "rollout_id"}


@dataclass(frozen=True)
class Observed:
    logs: list[dict[str, Any]]
    raw_logs: str
    metrics: str
    history: str
    token: str
    workflow_id: str
    run_id: str


@pytest.fixture(scope="module")
def captured_logging() -> Any:
    """adeflow's production logging set-up (JSON) into a buffer; the process's logging is restored afterwards."""
    root, azure = logging.getLogger(), logging.getLogger("azure")
    handlers, level, azure_level, config = list(root.handlers), root.level, azure.level, structlog.get_config()
    info_on_message = (workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message)
    buffer = io.StringIO()
    configure_logging("DEBUG", "json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers = handlers
    root.setLevel(level)
    azure.setLevel(azure_level)
    structlog.configure(**config)
    workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = info_on_message


@pytest.fixture(scope="module")
async def observed(captured_logging: io.StringIO, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    """One encryption (with one throttled ARM read on the way) on a worker exactly as ``adeflow worker`` runs it."""
    tmp_path = tmp_path_factory.mktemp("observability")
    image = {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2"}
    vm = {"name": "obs-01", "size": "Standard_D4s_v5", "image": image, "data_disks": [{"lun": 0, "size_gb": 16}]}
    sim = SimServer(FleetSpec.model_validate(fleet_dict([vm])), clock=SimClock(scale=20000), state_dir=tmp_path / "sim")
    sim.start_in_thread()
    sim.inject({"kind": "throttle", "operation": "Disks_Get", "count": 1, "retry_after": 0})
    dev = await DevServer.start(tmp_path / "temporal", ui=False)
    token = f"sim-{secrets.token_hex(16)}"
    metrics_address = f"127.0.0.1:{free_port()}"
    base = Settings(
        temporal=TemporalSettings(address=dev.address, task_queue=f"obs-{uuid.uuid4()}"),
        telemetry=TelemetrySettings(metrics_address=metrics_address),
    ).with_simulator(sim.base_url, sim.ca_path)
    settings = replace(base, azure=replace(base.azure, static_token=token))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop, handle_signals=False))
    try:
        client = await Client.connect(dev.address)
        request = EncryptVmInput(
            VmRef(SUB, "rg-web", "obs-01"), VAULT_ID, VolumeType.ALL, poll_interval_s=1, rollout_id=ROLLOUT_ID
        )
        handle = await client.start_workflow(
            EncryptVmWorkflow.run, request, id=f"obs/{uuid.uuid4()}", task_queue=settings.temporal.task_queue
        )
        result = await asyncio.wait_for(handle.result(), timeout=120)
        assert result.outcome is Outcome.ENCRYPTED, result.message
        with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        history = (await handle.fetch_history()).to_json()
        stop.set()
        await asyncio.wait_for(worker, timeout=30)
        raw = captured_logging.getvalue()
        logs = [json.loads(line) for line in raw.splitlines() if line.startswith("{")]
        describe = await handle.describe()
        yield Observed(logs, raw, metrics, history, token, handle.id, describe.run_id)
    finally:
        stop.set()
        await asyncio.gather(worker, return_exceptions=True)
        dev.stop()
        sim.stop()


async def test_activity_logs_are_json_bound_to_the_run_and_free_of_the_token(observed: Observed) -> None:
    non_json = [line for line in observed.raw_logs.splitlines() if line and not line.startswith("{")]
    assert not non_json, f"every log line is JSON in production: {non_json[:3]}"
    mine = [entry for entry in observed.logs if entry.get("workflow_id") == observed.workflow_id]
    activity_lines = [entry for entry in mine if "activity" in entry]
    assert {e["activity"] for e in activity_lines} >= {
        "read_vm_facts",
        "read_key_vault",
        "snapshot_disks",
        "put_encryption_extension",
        "await_encryption",
    }
    for entry in activity_lines:
        if entry["event"] == "Starting activity":
            continue  # the SDK's DEBUG line from before any interceptor runs (it has workflow_id, run_id, activity)
        missing = ACTIVITY_KEYS - entry.keys()
        assert not missing, f"activity log line without {missing}: {entry}"
        assert (entry["vm"], entry["subscription"], entry["rollout_id"]) == ("obs-01", SUB, ROLLOUT_ID)
        assert entry["run_id"] == observed.run_id
    assert any(e["event"] == "sending the ADE extension PUT" for e in activity_lines)
    workflow_lines = [e for e in mine if e.get("logger") == "temporalio.workflow"]
    assert workflow_lines and all(e["run_id"] == observed.run_id for e in workflow_lines)
    assert observed.token not in observed.raw_logs
    assert observed.token not in observed.history


async def test_worker_metrics_endpoint_serves_adeflow_metrics(observed: Observed) -> None:
    text = observed.metrics
    assert "temporal_request" in text or "temporal_workflow_completed" in text  # the SDK's own, same endpoint
    assert re.search(
        r'^adeflow_vms_finished\{.*outcome="encrypted".*workflow_type="EncryptVmWorkflow".*\} 1$', text, re.M
    )
    assert re.search(r'^adeflow_vm_phases_entered\{.*phase="encrypting".*\} 1$', text, re.M)
    assert re.search(
        r'^adeflow_arm_requests\{operation="Microsoft\.Compute/virtualMachines/extensions/write".*status="20[01]"',
        text,
        re.M,
    )
    assert re.search(r'^adeflow_arm_requests\{operation="Microsoft\.Compute/snapshots/write"', text, re.M)
    assert re.search(r'^adeflow_arm_throttled\{operation="Microsoft\.Compute/disks/read".*\} 1$', text, re.M)
    assert re.search(
        r'^adeflow_arm_requests\{operation="Microsoft\.Compute/disks/read".*status="429".*\} 1$', text, re.M
    )
    assert re.search(r"^adeflow_encryption_duration_seconds_count\{.*\} 1$", text, re.M)
    assert re.search(r'^adeflow_backup_duration_seconds_bucket\{.*method="snapshot".*le="3600"\} 1$', text, re.M)


def test_dashboard_charts_only_metrics_the_worker_serves(observed: Observed) -> None:
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = {name for expr in exprs for name in re.findall(r"\b((?:adeflow|temporal)_\w+)", expr)}
    served = set(re.findall(r"^(\w+)[{ ]", observed.metrics, re.M))
    assert names and names <= served, f"the dashboard queries metrics no worker serves: {sorted(names - served)}"


def test_counters_exist_at_zero_before_their_first_event(observed: Observed) -> None:
    """Every VM-run counter series is created at 0 when the worker starts (a dashboard shows 0 failed VMs, not
    "no data"), with the labels the workflows' own meter uses, so the first real event adds to that series."""
    text = observed.metrics
    for workflow_type, (outcomes, phases) in VM_RUNS.items():
        for outcome in outcomes:
            assert re.search(
                rf'^adeflow_vms_finished\{{.*outcome="{outcome.value}".*workflow_type="{workflow_type}".*\}} \d+$',
                text,
                re.M,
            ), (workflow_type, outcome)
        for phase in phases:
            assert re.search(
                rf'^adeflow_vm_phases_entered\{{.*phase="{phase.value}".*workflow_type="{workflow_type}".*\}} \d+$',
                text,
                re.M,
            ), (workflow_type, phase)
    assert re.search(r'^adeflow_vms_finished\{.*outcome="failed".*workflow_type="EncryptVmWorkflow".*\} 0$', text, re.M)
    encrypted = re.findall(
        r'^adeflow_vms_finished\{.*outcome="encrypted".*workflow_type="EncryptVmWorkflow".*\} (\d+)$', text, re.M
    )
    assert encrypted == ["1"], "the run's own count lands on the series created at 0 (one series, not two)"
    # An operation that was never throttled has its throttling series, at 0, from its first request.
    assert re.search(
        r'^adeflow_arm_throttled\{operation="Microsoft\.Compute/virtualMachines/extensions/write".*\} 0$', text, re.M
    )


def test_known_workflow_types_carry_their_counters() -> None:
    per_vm = {w.__name__ for w in WORKFLOWS} - {"FleetRolloutWorkflow", "CampaignWorkflow"}
    assert set(VM_RUNS) == per_vm


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/providers/Microsoft.ResourceGraph/resources", "Microsoft.ResourceGraph/resources/read"),
        (
            "GET",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v",
            "Microsoft.Compute/virtualMachines/read",
        ),
        (
            "POST",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v/restart",
            "Microsoft.Compute/virtualMachines/restart/action",
        ),
    ],
)
def test_the_operation_label_is_the_rbac_action(method: str, path: str, action: str) -> None:
    """A Resource Graph query is a POST that RBAC names a read (the role grants Microsoft.ResourceGraph/resources/
    read; the label said .../action)."""
    assert arm_action(method, f"https://management.azure.com{path}?api-version=2024-04-01") == action
