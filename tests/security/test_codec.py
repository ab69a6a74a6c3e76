"""Payload encryption: what the Temporal server stores is ciphertext, keys rotate, a wrong key fails loudly."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.azure.clients import AzureClients
from activities.registry import build_activities
from adeflow.client.codec import (
    SEALED_FAILURE_MESSAGE,
    CodecKeyError,
    CodecKeys,
    EncryptionCodec,
    client_codec_options,
    data_converter,
    new_key_line,
)
from adeflow.domain.model import EncryptVmInput, Outcome, VmRef
from adeflow.inputs.settings import Settings, TemporalSettings
from azuresim.server import SimServer
from tests.support.fleets import SUB, VAULT_ID, fleet_dict, vm
from tests.support.servers import SimFactory
from worker.interceptors import HEADER
from worker.main import build_workers
from workflows.encrypt_vm import EncryptVmWorkflow
from workflows.registry import WORKFLOWS, workflow_runner

pytestmark = [pytest.mark.workflow, pytest.mark.security]

OLD = new_key_line("k2025")
NEW = new_key_line("k2026")


def keys(*lines: str) -> CodecKeys:
    return CodecKeys.parse([tuple(line.split()) for line in lines], "test")  # type: ignore[misc]


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = EncryptionCodec(keys(NEW))
    [sealed] = await codec.encode([payload('"kv-ade-eastus"')])
    assert b"kv-ade-eastus" not in sealed.data and b"json/plain" not in sealed.data
    assert sealed.metadata["encryption-key-id"] == b"k2026"
    assert await codec.decode([sealed]) == [payload('"kv-ade-eastus"')]


async def test_keys_rotate_old_payloads_stay_readable_and_new_ones_use_the_first_key() -> None:
    [old_sealed] = await EncryptionCodec(keys(OLD)).encode([payload("1")])
    rotated = EncryptionCodec(keys(NEW, OLD))
    assert await rotated.decode([old_sealed]) == [payload("1")]
    [new_sealed] = await rotated.encode([payload("2")])
    assert new_sealed.metadata["encryption-key-id"] == b"k2026"
    with pytest.raises(CodecKeyError, match="key 'k2026', which this process does not hold"):
        await EncryptionCodec(keys(OLD)).decode([new_sealed])


async def test_tampered_payload_or_wrong_key_material_is_refused() -> None:
    [sealed] = await EncryptionCodec(keys(NEW)).encode([payload("1")])
    other_material = keys(new_key_line("k2026"))
    with pytest.raises(CodecKeyError, match="does not authenticate"):
        await EncryptionCodec(other_material).decode([sealed])


async def test_plain_payloads_written_before_the_codec_pass_through() -> None:
    assert await EncryptionCodec(keys(NEW)).decode([payload("1")]) == [payload("1")]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ADEFLOW_CODEC_KEYS": "k1"}, "expected id:base64"),
        ({"ADEFLOW_CODEC_KEYS": "k1:notbase64!"}, "not base64"),
        ({"ADEFLOW_CODEC_KEYS": "k1:" + base64.b64encode(b"short").decode()}, "has 5 bytes; AES-256 needs 32"),
        ({"ADEFLOW_CODEC_KEYS": f"{OLD.replace(' ', ':')},{OLD.replace(' ', ':')}"}, "appears twice"),
        ({"ADEFLOW_CODEC_KEYS": "a", "ADEFLOW_CODEC_KEY_FILE": "f"}, "not both"),
        ({"ADEFLOW_CODEC_KEY_FILE": "/nonexistent/keys"}, "ADEFLOW_CODEC_KEY_FILE=/nonexistent/keys: cannot read it"),
    ],
)
def test_bad_key_configuration_says_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(CodecKeyError, match=message):
        CodecKeys.from_env(env)


def test_key_file_first_key_seals(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\n{NEW}\n{OLD}  # kept for old histories\n")
    path.chmod(0o600)
    loaded = CodecKeys.from_env({"ADEFLOW_CODEC_KEY_FILE": str(path)})
    assert loaded is not None and [k for k, _ in loaded.keys] == ["k2026", "k2025"]
    assert CodecKeys.from_env({}) is None


async def test_history_on_the_server_holds_no_plaintext_when_the_codec_is_on(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("codec-web-01")]))
    config = time_skipping_env.client.config()
    config["data_converter"] = data_converter(keys(NEW))
    sealed_client = Client(**config)  # keeps the time-skipping interceptor
    request = EncryptVmInput(
        vm=VmRef(SUB, "rg-web", "codec-web-01"), key_vault_id=VAULT_ID, poll_interval_s=300, adaptive_polling=False
    )
    async with Worker(
        sealed_client,
        task_queue=f"codec-{uuid.uuid4()}",
        workflows=list(WORKFLOWS),
        activities=list(build_activities(azure_for(sim))),
        workflow_runner=workflow_runner(),
    ) as worker:
        handle = await sealed_client.start_workflow(
            EncryptVmWorkflow.run, request, id=f"codec/{uuid.uuid4()}", task_queue=worker.task_queue
        )
        assert (await handle.result()).outcome is Outcome.ENCRYPTED
    raw = time_skipping_env.client.get_workflow_handle(handle.id)  # no codec: sees what the server stores
    stored = b"".join([event.SerializeToString() async for event in raw.fetch_history_events()])
    # Workflow ids and search attributes (VM, resource group) stay readable by design; payloads do not.
    for plaintext in (b"kv-ade-eastus", b"AzureDiskEncryption", b"EnableEncryption", b"osdisk-ade"):
        assert plaintext not in stored, plaintext
    assert b"binary/encrypted" in stored


async def test_failure_messages_and_the_log_context_header_are_sealed_too(
    time_skipping_env: WorkflowEnvironment, make_sim: SimFactory, azure_for: Callable[[SimServer], AzureClients]
) -> None:
    sim = make_sim(fleet_dict([vm("codec-ext-01")]), 60, 300)
    marker = "dm-crypt-marker-7f3a"
    sim.inject({"kind": "extension_failure", "vm": "codec-ext-01", "message": f"Failed to encrypt: {marker}"})
    config = time_skipping_env.client.config()
    config.update(client_codec_options(keys(NEW)))  # as adeflow.client.connect connects with keys set
    sealed_client = Client(**config)
    settings = Settings(temporal=TemporalSettings(task_queue=f"codec-{uuid.uuid4()}"))
    request = EncryptVmInput(
        vm=VmRef(SUB, "rg-web", "codec-ext-01"), key_vault_id=VAULT_ID, poll_interval_s=300, adaptive_polling=False
    )
    (only,) = build_workers(sealed_client, settings, azure_for(sim))  # the product's worker (role all: one)
    async with only as worker:
        handle = await sealed_client.start_workflow(
            EncryptVmWorkflow.run, request, id=f"codec/{uuid.uuid4()}", task_queue=worker.task_queue
        )
        result = await handle.result()
    assert result.outcome is Outcome.FAILED and marker in result.message  # the key holder reads the reason

    raw = time_skipping_env.client.get_workflow_handle(handle.id)  # no codec: what the server stores
    events = [event async for event in raw.fetch_history_events()]
    stored = b"".join(event.SerializeToString() for event in events)
    assert marker.encode() not in stored and b"Failed to encrypt" not in stored
    failures = [
        e.activity_task_failed_event_attributes.failure
        for e in events
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert failures, "the extension failure should fail an activity"
    for failure in failures:
        assert failure.message == SEALED_FAILURE_MESSAGE and not failure.stack_trace
        assert failure.encoded_attributes.metadata["encoding"] == b"binary/encrypted"
    headers = [
        e.activity_task_scheduled_event_attributes.header.fields[HEADER]
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert headers and all(h.metadata["encoding"] == b"binary/encrypted" for h in headers)
