"""What an operator sees in the Temporal UI without opening a run (issue 17): ``AdeRule`` says why a VM run was
refused or failed, every run carries static details (VM, volume type, backup policy, rollout), and with payload
encryption on the summary says so instead of showing nothing."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from activities.azure.clients import AzureClients
from adeflow.client import vm_runs
from adeflow.client.codec import CodecKeys, data_converter
from adeflow.domain import vocabulary
from adeflow.domain.model import BackupPolicy, Outcome, VolumeType
from adeflow.domain.run_labels import ENCRYPTED_NOTE, encrypt_summary
from adeflow.inputs.settings import Settings, TemporalSettings
from azuresim.server import SimServer
from tests.support.encrypt_vm_runs import request, run
from tests.support.fleets import fleet_dict, vm
from tests.support.servers import SimFactory, new_worker

RULE = SearchAttributeKey.for_keyword(vocabulary.RULE)
OUTCOME = SearchAttributeKey.for_keyword(vocabulary.OUTCOME)
ULTRA = {"lun": 0, "size_gb": 64, "sku": "UltraSSD_LRS"}


async def test_a_refused_run_started_by_the_cli_shows_its_rule_and_details(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("ultra-02", data_disks=[ULTRA])]))
    req = request("ultra-02", VolumeType.ALL, backup_policy=BackupPolicy.SNAPSHOT)
    async with new_worker(time_skipping_env, azure_for(sim)) as worker:
        settings = Settings(temporal=TemporalSettings(task_queue=worker.task_queue))
        started = await vm_runs.start_encrypt(time_skipping_env.client, settings, req)
        result = await started.result()
    assert result.outcome is Outcome.REFUSED, result.message
    description = await started.handle.describe()
    attributes = description.typed_search_attributes
    assert (attributes.get(OUTCOME), attributes.get(RULE)) == ("refused", "R-LIM-4w")
    assert await description.static_summary() == "Encrypt ultra-02 (All) in rg-web"
    details = await description.static_details() or ""
    for shown in ("**VM** ultra-02", "**Volume type** All", "**Backup policy** snapshot", "**Rollout** none"):
        assert shown in details, details


async def test_a_failed_run_shows_its_reason_code(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("web-07")]))
    result, handle = await run(time_skipping_env, azure_for(sim), request("gone-01"))
    assert result.outcome is Outcome.FAILED and result.reason
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes.get(OUTCOME), attributes.get(RULE)) == ("failed", result.reason)


async def test_an_encrypted_run_has_no_rule(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("ok-01")]), 3600)
    result, handle = await run(time_skipping_env, azure_for(sim), request("ok-01"))
    assert result.outcome is Outcome.ENCRYPTED, result.message
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes.get(OUTCOME), attributes.get(RULE)) == ("encrypted", None)


async def test_with_payload_encryption_the_summary_says_the_details_are_encrypted(
    fresh_time_skipping_env: WorkflowEnvironment,
) -> None:
    """The UI without a codec server reads the summary (plain, naming only what the workflow id shows) and
    learns that the rest is encrypted; the details stay sealed like every payload."""
    env = fresh_time_skipping_env
    keys = CodecKeys.parse([("k1", base64.b64encode(bytes(32)).decode())], "test")
    config = env.client.service_client.config
    converter = data_converter(keys)
    sealed = await Client.connect(config.target_host, namespace=env.client.namespace, data_converter=converter)
    settings = Settings(temporal=TemporalSettings(task_queue=f"nobody-{uuid.uuid4()}"))  # no worker: it only starts
    req = request("web-09", VolumeType.OS)
    started = await vm_runs.start_encrypt(sealed, settings, req)
    try:
        described = await env.client.get_workflow_handle(started.workflow_id).describe()  # a client without keys
        metadata = described.raw_description.execution_config.user_metadata
        assert metadata.summary.metadata["encoding"] == b"json/plain"
        summary = env.client.data_converter.payload_converter.from_payloads([metadata.summary])[0]
        assert summary == f"{encrypt_summary(req)} · {ENCRYPTED_NOTE}"
        assert metadata.details.metadata["encoding"] == b"binary/encrypted"
        assert b"web-09" not in metadata.details.data
    finally:
        await started.handle.terminate("test over")
