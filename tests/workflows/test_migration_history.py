"""A migration's workflow history does not grow with the disk it copies (issue 16, M-3): the copy is one activity per
disk whose progress lives in heartbeat details, never in events, so a 1 TiB disk with many checkpoints and a 4 GB
disk with none cost the same history. On the time-skipping server with the real SDK against the simulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.domain.migration import MigrationInput, MigrationOutcome, MigrationPhase
from azuresim.server import SimServer
from benchmarks.migration_runs import MIB, data_only_vm, history_figures, migration_fleet, vm_ref
from tests.support.migration_runs import WEEK_S, running, send, until_phase
from tests.support.servers import SimFactory
from workflows.migrate_vm import MigrateToHostEncryptionWorkflow as Migrate

pytestmark = pytest.mark.migration

Azure = Callable[[SimServer], AzureClients]
CHECKPOINT = 16 * MIB
SIZES = {"hist-small": (4, 8), "hist-large": (1024, 384)}
"""VM: its data disk (size GB, written MiB): no checkpoint falls due on the small one, 24 on the large one."""


async def migrate(env: WorkflowEnvironment, clients: AzureClients, name: str) -> tuple[dict[str, int], int]:
    """One VM migrated (the source kept), workflow time at the real pace so no reminder fires; its history figures
    and the bytes its copies moved."""
    request = MigrationInput(
        vm=vm_ref(name), poll_interval_s=1.0, reminder_interval_s=WEEK_S, checkpoint_bytes=CHECKPOINT
    )
    async with running(env, clients, request) as handle:
        await send(handle, Migrate.approve_downtime)
        waiting = await until_phase(env, handle, MigrationPhase.AWAIT_OWNER, real_s=120, skip_time=False)
        assert waiting.phase is MigrationPhase.AWAIT_OWNER, waiting.detail
        await send(handle, Migrate.confirm_new_vm)
        waiting = await until_phase(env, handle, MigrationPhase.AWAIT_CLEANUP, skip_time=False)
        assert waiting.phase is MigrationPhase.AWAIT_CLEANUP, waiting.detail
        await send(handle, Migrate.keep_source)
        result = await handle.result()
        history = await handle.fetch_history()
    assert result.outcome is MigrationOutcome.MIGRATED, result.message
    return history_figures(history), result.bytes_copied


async def test_m_3_history_length_is_flat_in_disk_size(
    fresh_time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Azure
) -> None:
    vms = [data_only_vm(name, 8, [sizes]) for name, sizes in SIZES.items()]
    sim = make_sim(migration_fleet(vms, scale=60, disk_mib_per_real_s=2000), 60)
    small, small_bytes = await migrate(fresh_time_skipping_env, azure_for(sim), "hist-small")
    large, large_bytes = await migrate(fresh_time_skipping_env, azure_for(sim), "hist-large")

    assert large_bytes >= 24 * CHECKPOINT > 2 * small_bytes  # the large copy heartbeated many checkpoints
    # Every event but the workflow tasks' own: equal. How many workflow tasks a run takes is timing (parallel copies
    # finishing in one task or two; the test server answering the test's progress queries), never bytes.
    assert large["run_events"] == small["run_events"], (small, large)
    assert large["bytes"] < small["bytes"] * 1.1, (small, large)
