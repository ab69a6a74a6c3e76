"""``adeflow demo``: the embedded default. Dev server + ARM simulator + worker, every VM of a sample fleet.

It runs the product exactly as an operator would against Azure: same workflows, same activities, same Azure
SDK clients; only the endpoint (the simulator, on a scaled clock) differs, and that is configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web
from temporalio.client import Client

from adeflow.cli.demo_migrate import MigrateDemoSummary, demo_requests, run_migrations
from adeflow.cli.devserver import DevServer, free_port, temporal_cli
from adeflow.cli.tables import table_text
from adeflow.client.codec import CodecKeys, EncryptionCodec, new_key_line
from adeflow.client.codec_server import build_app, plan_access
from adeflow.client.connect import connect as connect_temporal
from adeflow.client.connect import worker_polls
from adeflow.client.rollouts import start_rollout, ui_link, vm_results, watch, write_report
from adeflow.domain.model import DisableInput, DisableResult, EncryptVmResult, Outcome, VmRef
from adeflow.domain.rollout import build_rollout_input
from adeflow.inputs.manifest import load_manifest
from adeflow.inputs.settings import Settings, TelemetrySettings, TemporalSettings
from adeflow.reports.migration_report import report_markdown
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec, load_fleet
from azuresim.server import SimServer
from worker.main import build_runtime, run_worker
from workflows.disable_encryption import DisableEncryptionWorkflow, disable_workflow_id

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_FLEET = EXAMPLES / "demo-fleet.yaml"
DEFAULT_MANIFEST = EXAMPLES / "demo-rollout.yaml"
MIGRATE_FLEET = EXAMPLES / "migrate-demo-fleet.yaml"
MIGRATE_MANIFEST = EXAMPLES / "migrate-demo.yaml"
LIFECYCLE_VM = "dis-01"
"""A data-only encrypted VM outside the rollout: the demo disables it and removes the extension (R-DIS-2)."""


def scale_for(fleet: FleetSpec, target_seconds: float) -> float:
    """Clock scale that lets the slowest VM of the fleet finish in about ``target_seconds`` of real time."""
    sim = fleet.sim
    longest = 0.0
    for sub in fleet.subscriptions:
        for rg in sub.resource_groups:
            for vm in rg.vms:
                gb = vm.os_disk.size_gb + sum(d.size_gb for d in vm.data_disks)
                backup = max(sim.snapshot_seconds, sim.backup_seconds)
                seconds = sim.stamp_seconds + backup + sim.stripdown_seconds + gb / sim.gb_per_hour * 3600
                longest = max(longest, seconds)
    return max(1.0, longest / target_seconds)


@dataclass(frozen=True)
class DemoSummary:
    results: list[EncryptVmResult]
    rollout_id: str
    temporal_address: str
    ui_url: str
    wall_seconds: float
    arm_requests: int
    report_paths: list[Path]
    disable: DisableResult | None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def _disable_json(self) -> dict[str, str | None] | None:
        if self.disable is None:
            return None
        return {"vm": self.disable.vm.name, "outcome": self.disable.outcome.value, "rule": self.disable.rule or None}

    def as_json(self) -> str:
        return json.dumps(
            {
                "encrypted": self.count(Outcome.ENCRYPTED),
                "refused": self.count(Outcome.REFUSED),
                "failed": self.count(Outcome.FAILED),
                "rollout_id": self.rollout_id,
                "temporal_address": self.temporal_address,
                "ui": self.ui_url,
                "wall_seconds": round(self.wall_seconds, 1),
                "arm_requests": self.arm_requests,
                "report": [str(p) for p in self.report_paths],
                "disable": (
                    {
                        "vm": self.disable.vm.name,
                        "outcome": self.disable.outcome.value,
                        "rule": self.disable.rule or None,
                    }
                    if self.disable
                    else None
                ),
                "vms": [
                    {
                        "vm": r.vm.name,
                        "outcome": r.outcome.value,
                        "rule": r.rule or None,
                        "reason": r.reason or None,
                        "backup": r.backup.value if r.backup else None,
                    }
                    for r in self.results
                ],
            }
        )


def render_table(results: Sequence[EncryptVmResult], terminal: bool | None = None) -> str:
    """The outcome per VM: a rich table on a terminal, plain columns in a log (``terminal``: stdout's kind)."""
    rows = [
        (
            r.vm.name,
            r.outcome.value,
            " ".join(x for x in (r.rule, r.reason) if x) or "-",
            r.backup.value if r.backup else "-",
            r.volume_type.value if r.volume_type else "-",
            f"{sum(t.seconds for t in r.timings):.0f}",
        )
        for r in results
    ]
    headers = ("VM", "OUTCOME", "RULE / REASON", "BACKUP", "VOLUMES", "SECONDS")
    terminal = sys.stdout.isatty() if terminal is None else terminal
    return table_text(headers, rows, terminal=terminal, right={"SECONDS"})


async def _disable_lifecycle_vm(
    client: Client, settings: Settings, fleet: FleetSpec, poll_interval_s: float
) -> DisableResult | None:
    """Disable-before-remove on a data-only VM (R-DIS-2), if the fleet has one."""
    for sub in fleet.subscriptions:
        for rg in sub.resource_groups:
            if any(vm.name == LIFECYCLE_VM for vm in rg.vms):
                ref = VmRef(sub.id, rg.name, LIFECYCLE_VM)
                print(f"Disabling ADE on {ref.name} (data volumes), then removing the extension", flush=True)
                return await client.execute_workflow(
                    DisableEncryptionWorkflow.run,
                    DisableInput(ref, poll_interval_s=poll_interval_s),
                    id=disable_workflow_id(ref),
                    task_queue=settings.temporal.task_queue,
                    static_summary=f"Disable ADE (data) on {ref.name}, then remove the extension",
                )
    return None


@dataclass(frozen=True)
class DemoCodec:
    """The demo's payload encryption: a fresh key, and the codec server the UI decodes through."""

    keys: CodecKeys
    keys_variable: str
    """The key as ``ADEFLOW_CODEC_KEYS`` takes it (``demo:<base64>``)."""
    url: str
    runner: web.AppRunner


async def _start_codec(ui_port: int) -> DemoCodec:
    """A codec server on loopback for the dev server's UI (its origin only, by either loopback name)."""
    key_id, key = new_key_line("demo").split()
    keys = CodecKeys.parse([(key_id, key)], "adeflow demo --codec")
    origins = (f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}")
    port = free_port()
    # Loopback only, for the demo's own UI: no token (the demo's payloads are sample data; --insecure-no-auth).
    access = plan_access({}, "127.0.0.1", port, (), insecure_no_auth=True)
    runner = web.AppRunner(build_app(EncryptionCodec(keys), origins, access), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return DemoCodec(keys, f"{key_id}:{key}", f"http://127.0.0.1:{port}", runner)


def adeflow_cli() -> str:
    """The ``adeflow`` beside this interpreter (the venv's), as a full path when there is one."""
    beside = Path(sys.executable).parent / "adeflow"
    return str(beside) if beside.exists() else "adeflow"


def demo_environment(settings: Settings, codec: DemoCodec | None) -> dict[str, str]:
    """The variables that point ``adeflow`` (CLI or worker) at this demo's servers."""
    env = {
        "ADEFLOW_TEMPORAL_ADDRESS": settings.temporal.address,
        "ADEFLOW_TEMPORAL_UI": settings.temporal.ui_url,
        "ADEFLOW_ARM_ENDPOINT": settings.azure.arm_endpoint,
        "ADEFLOW_ARM_CA_FILE": settings.azure.ca_file,
        "ADEFLOW_ARM_STATIC_TOKEN": settings.azure.static_token,
        "ADEFLOW_LRO_POLL_SECONDS": f"{settings.azure.lro_poll_seconds:g}",
    }
    if codec is not None:
        env["ADEFLOW_CODEC_KEYS"] = codec.keys_variable
    return env


def hand_off(settings: Settings, codec: DemoCodec | None, rollout_id: str) -> str:
    """What ``--keep-running`` prints: a block to paste into a shell (exports, then commands that work as
    printed, with the venv's tools by full path)."""
    env = demo_environment(settings, codec)
    adeflow, temporal, address = adeflow_cli(), shlex.quote(str(temporal_cli())), settings.temporal.address
    lines = ["# Point the CLI or a worker at this demo (paste into a shell):"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    lines += [
        "# then, for example:",
        f"{adeflow} rollout status {shlex.quote(rollout_id)}",
        f"{temporal} workflow list --address {address} --query "
        + shlex.quote(f'AdeRolloutId="{rollout_id}" AND AdeOutcome="refused"'),
        f"{temporal} workflow list --address {address} --query " + shlex.quote('AdeRule="R-LIM-4a"'),
    ]
    if codec is not None:
        lines += [
            f"# Payloads are encrypted; the UI decodes them through the codec server {codec.url} (set with",
            "# --ui-codec-endpoint). In another Temporal UI (2.54): the codec icon in the top bar -> Codec Server",
            f"# endpoint {codec.url}, 'Pass the user access token' off.",
        ]
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class DemoServers:
    """What a demo scenario runs against: the dev server, the simulator, the settings that reach them, a client."""

    dev: DevServer
    sim: SimServer
    settings: Settings
    client: Client
    codec: DemoCodec | None


@dataclass(frozen=True)
class DemoOptions:
    """What ``adeflow demo`` was asked for, whichever scenario it runs."""

    target_seconds: float = 30.0
    """Wall seconds the simulator's scaled clock aims the fleet's work at."""
    poll_interval_s: float = 2.0
    keep_running: bool = False
    emit_json: bool = False
    report_dir: Path = Path("var/demo-report")
    telemetry: TelemetrySettings | None = None
    codec: bool = False


@contextlib.asynccontextmanager
async def demo_servers(fleet: FleetSpec, options: DemoOptions) -> AsyncIterator[DemoServers]:
    """Simulator (clock scaled for ``options.target_seconds``), dev server with its UI, a connected client and a
    worker serving both task queues, polling before this yields. Whatever ends the scenario, everything started here is
    stopped and its directory removed."""
    telemetry = options.telemetry or TelemetrySettings()
    state_dir = Path(tempfile.mkdtemp(prefix="adeflow-demo-"))
    dev: DevServer | None = None
    sim: SimServer | None = None
    demo_codec: DemoCodec | None = None
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    try:
        sim = SimServer(
            fleet, clock=SimClock(scale=scale_for(fleet, options.target_seconds)), state_dir=state_dir / "sim"
        )
        sim.start_in_thread()
        ui_port = free_port()
        demo_codec = await _start_codec(ui_port) if options.codec else None
        dev = await DevServer.start(
            state_dir / "temporal", ui=True, ui_port=ui_port, codec_endpoint=demo_codec.url if demo_codec else ""
        )
        print(f"Temporal UI: {dev.ui_url}   (server {dev.address})", flush=True)
        print(f"ARM simulator: {sim.base_url}   (clock x{sim.clock.scale:.0f})", flush=True)
        if demo_codec is not None:
            print(f"Codec server: {demo_codec.url}   (payloads encrypted; the UI decodes through it)", flush=True)
        temporal = TemporalSettings(address=dev.address, ui_url=dev.ui_url)
        settings = Settings(temporal=temporal, telemetry=telemetry).with_simulator(sim.base_url, sim.ca_path)
        client = await connect_temporal(
            settings.temporal, runtime=build_runtime(telemetry), keys=demo_codec.keys if demo_codec else None
        )
        if telemetry.metrics_address:
            print(f"Worker metrics: http://{telemetry.metrics_address}/metrics", flush=True)
        worker_task = asyncio.create_task(run_worker(settings, stop, client, handle_signals=False))
        for queue in dict.fromkeys((settings.temporal.task_queue, settings.temporal.create_queue)):
            await _worker_polling(client, queue, worker_task)
        yield DemoServers(dev, sim, settings, client, demo_codec)
    finally:
        stop.set()
        if worker_task is not None:
            await asyncio.gather(worker_task, return_exceptions=True)
        if dev is not None:
            dev.stop()
        if demo_codec is not None:
            await demo_codec.runner.cleanup()
        if sim is not None:
            sim.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


async def run_demo(
    fleet_path: Path = DEFAULT_FLEET,
    manifest_path: Path = DEFAULT_MANIFEST,
    options: DemoOptions = DemoOptions(),
) -> DemoSummary:
    """Run the demo; with ``keep_running``, stay up until cancelled (Ctrl-C, SIGTERM: ``adeflow.cli.stopping``),
    which then ends it normally. Whatever ends it, everything it started is stopped and its directory removed."""
    started = time.monotonic()
    fleet = load_fleet(fleet_path)
    manifest = load_manifest(manifest_path)
    async with demo_servers(fleet, options) as servers:
        dev, sim, settings, client, demo_codec = (
            servers.dev,
            servers.sim,
            servers.settings,
            servers.client,
            servers.codec,
        )
        rollout_id = f"{manifest.rollout.name or 'demo'}-{time.strftime('%H%M%S')}"
        policy = replace(manifest.rollout, poll_interval_s=options.poll_interval_s)
        request = build_rollout_input(rollout_id, policy, [(vm.ref, vm.settings) for vm in manifest.vms])
        handle = await start_rollout(client, request, settings.temporal.task_queue)
        link = ui_link(settings.temporal.ui_url, settings.temporal.namespace, handle.id)
        print(f"Rollout {rollout_id}: {len(manifest.vms)} VMs, canary first; UI {link}", flush=True)
        await watch(client, rollout_id, ui_url=link, out=lambda text: print(text, flush=True))
        disable = await _disable_lifecycle_vm(client, settings, fleet, options.poll_interval_s)
        results = await vm_results(client, rollout_id)
        report_paths = await write_report(client, rollout_id, options.report_dir)
        summary = DemoSummary(
            results=results,
            rollout_id=rollout_id,
            temporal_address=dev.address,
            ui_url=dev.ui_url,
            wall_seconds=time.monotonic() - started,
            arm_requests=len(sim.requests()),
            report_paths=report_paths,
            disable=disable,
        )
        print(render_table(results), flush=True)
        if disable is not None:
            print(f"disable + remove on {disable.vm.name}: {disable.outcome.value}: {disable.message}", flush=True)
        print(
            f"encrypted {summary.count(Outcome.ENCRYPTED)}, refused {summary.count(Outcome.REFUSED)}, "
            f"failed {summary.count(Outcome.FAILED)} in {summary.wall_seconds:.0f}s; "
            f"{summary.arm_requests} ARM requests; report {', '.join(str(p) for p in report_paths)}",
            flush=True,
        )
        for r in results:
            if r.outcome is not Outcome.ENCRYPTED:
                print(f"  {r.message}", flush=True)
        if options.keep_running:
            print(hand_off(settings, demo_codec, rollout_id), flush=True)
        if options.emit_json:
            print(summary.as_json(), flush=True)
        if options.keep_running:
            await stay_up(dev.ui_url)
        return summary


async def run_migrate_demo(
    fleet_path: Path = MIGRATE_FLEET,
    manifest_path: Path = MIGRATE_MANIFEST,
    options: DemoOptions = DemoOptions(),
) -> MigrateDemoSummary:
    """``--scenario migrate``: the fleet's VMs leave ADE for encryption at host, one migration run each, the demo
    giving the approvals (``adeflow.cli.demo_migrate``); then the report, as ``adeflow migrate report`` prints it."""
    started = time.monotonic()
    fleet = load_fleet(fleet_path)
    rollout_id, requests = demo_requests(manifest_path, options.poll_interval_s)  # a bad manifest starts nothing
    async with demo_servers(fleet, options) as servers:
        report, paths = await run_migrations(
            servers.client,
            servers.settings,
            rollout_id,
            requests,
            options.report_dir,
            poll_s=min(options.poll_interval_s, 1.0),
            say=lambda text: print(text, flush=True),
        )
        summary = MigrateDemoSummary(
            report, rollout_id, servers.dev.address, servers.dev.ui_url, time.monotonic() - started, paths
        )
        print(report_markdown(report), flush=True)
        if options.keep_running:
            print(migrate_hand_off(servers.settings, servers.codec, rollout_id), flush=True)
        if options.emit_json:
            print(summary.as_json(), flush=True)
        if options.keep_running:
            await stay_up(servers.dev.ui_url)
        return summary


def migrate_hand_off(settings: Settings, codec: DemoCodec | None, rollout_id: str) -> str:
    """``--keep-running`` of the migrate scenario: the exports, then the report command as printed."""
    env = demo_environment(settings, codec)
    lines = ["# Point the CLI or a worker at this demo (paste into a shell):"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    lines += ["# then, for example:", f"{adeflow_cli()} migrate report {shlex.quote(rollout_id)} --format markdown"]
    return "\n".join(lines)


async def stay_up(ui_url: str) -> None:
    print(f"Everything stays up: UI {ui_url}. Ctrl-C (or SIGTERM) stops it.", file=sys.stderr, flush=True)
    await _until_cancelled()


async def _worker_polling(client: Client, task_queue: str, worker: asyncio.Task[None], timeout_s: float = 30) -> None:
    """Until the server sees the embedded worker poll: the live display queries the rollout, and a query before
    the first poll is "no worker is polling" rather than a wait."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await worker_polls(client, task_queue):
        if worker.done():
            await worker  # its error, as it is
            raise RuntimeError("the demo's worker stopped before it polled")
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"the demo's worker did not poll task queue {task_queue} within {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


async def _until_cancelled() -> None:
    """Wait for Ctrl-C or SIGTERM, the normal end of ``--keep-running``: the cancellation is taken, not passed on."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        print("stopping the worker, the dev server and the simulator", file=sys.stderr, flush=True)
