"""Pure unit tests of the ADE timeline (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from azuresim.state.encryption import (
    DISABLE_REFUSED_MESSAGE,
    STRIPDOWN_MESSAGE,
    Operation,
    Rates,
    Run,
    Volume,
    VolumeKind,
    VolumeState,
    VolumeType,
    evaluate,
    plan,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RATES = Rates()
VOLS = (
    Volume("vm-osdisk", VolumeKind.OS, 30),
    Volume("vm-datadisk-0", VolumeKind.DATA, 20),
    Volume("vm-datadisk-1", VolumeKind.DATA, 10),
)
NONE = {"vm-osdisk": VolumeState.NOT_ENCRYPTED, "vm-datadisk-0": VolumeState.NOT_ENCRYPTED}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(op: Operation = Operation.ENABLE, vt: VolumeType = VolumeType.ALL, **initial: VolumeState) -> Run:
    states = {v.name: VolumeState.NOT_ENCRYPTED for v in VOLS}
    states.update({k.replace("_", "-"): v for k, v in initial.items()})
    return Run(op, vt, T0, states, stripdown=True)


def test_plan_orders_stamping_data_then_os() -> None:
    p = plan(run(), VOLS, RATES)
    assert p.stamp_end == 120
    assert [(s.volume, s.start, s.end) for s in p.data_steps] == [
        ("vm-datadisk-0", 120, 120 + 7200),
        ("vm-datadisk-1", 120 + 7200, 120 + 10800),
    ]
    assert p.os_step is not None and p.os_step.end - p.os_step.start == 3 * 3600
    assert p.end == 120 + 10800 + 10800
    assert set(p.stamp_targets) == {v.name for v in VOLS}


def test_stamping_then_data_progress_messages() -> None:
    r = run()
    first = evaluate(r, VOLS, RATES, at(10))
    assert first.status.message == "" and not first.stamped
    assert json.loads(first.substatus_message) == {"data": "EncryptionInProgress", "os": "EncryptionInProgress"}
    assert evaluate(r, VOLS, RATES, at(121)).status.message == "Encrypting 2 data volumes"
    mid = evaluate(r, VOLS, RATES, at(120 + 3600))
    assert mid.status.message == "Encrypting data volume 1/2: 50%"
    assert mid.volumes["vm-datadisk-0"] is VolumeState.ENCRYPTION_IN_PROGRESS
    second = evaluate(r, VOLS, RATES, at(120 + 7200 + 1800))
    assert second.status.message == "Encrypting data volume 2/2: 50%"
    assert second.volumes["vm-datadisk-0"] is VolumeState.ENCRYPTED


def test_os_pass_with_stripdown_then_success() -> None:
    r = run()
    os_start = 120 + 10800
    strip = evaluate(r, VOLS, RATES, at(os_start + 5))
    assert (strip.status.level, strip.status.code, strip.status.message) == (
        "Error",
        "ProvisioningState/failed/19",
        STRIPDOWN_MESSAGE,
    )
    assert strip.os == "EncryptionInProgress"
    normal = evaluate(r, VOLS, RATES, at(os_start + 601))
    assert normal.status.message == "Encrypting OS volume: 5%" and normal.status.level == "Info"
    done = evaluate(r, VOLS, RATES, at(os_start + 10800))
    assert done.done and done.status.message == "Encryption succeeded for all volumes"
    assert (done.os, done.data) == ("Encrypted", "Encrypted")


def test_reevaluation_skips_encrypted_volumes() -> None:
    r = run(vm_osdisk=VolumeState.ENCRYPTED, vm_datadisk_0=VolumeState.ENCRYPTED)
    p = plan(r, VOLS, RATES)
    assert [s.volume for s in p.data_steps] == ["vm-datadisk-1"]
    assert p.os_step is None
    done = evaluate(r, VOLS, RATES, at(p.end))
    assert json.loads(done.substatus_message) == {"data": "Encrypted", "os": "Encrypted"}


def test_data_only_without_mounted_disks_reports_not_mounted() -> None:
    vols = (Volume("a-osdisk", VolumeKind.OS, 30), Volume("a-datadisk-0", VolumeKind.DATA, 8, mounted=False))
    r = Run(Operation.ENABLE, VolumeType.DATA, T0, {})
    done = evaluate(r, vols, RATES, at(121))
    assert done.done and done.data == "NotMounted" and done.os == "NotEncrypted"
    assert done.status.message == "Encryption succeeded for data volumes"


def test_format_all_uses_fixed_duration_per_data_volume() -> None:
    p = plan(run(Operation.ENABLE_FORMAT_ALL, VolumeType.DATA), VOLS, RATES)
    assert [s.end - s.start for s in p.data_steps] == [300, 300]
    assert p.os_step is None


def test_disable_refused_when_os_encrypted() -> None:
    r = run(Operation.DISABLE, VolumeType.DATA, vm_osdisk=VolumeState.ENCRYPTED)
    early = evaluate(r, VOLS, RATES, at(5))
    assert early.status.level == "Info"
    late = evaluate(r, VOLS, RATES, at(130))
    assert late.failed and late.status.level == "Error" and late.status.message == DISABLE_REFUSED_MESSAGE


def test_disable_decrypts_data_volumes() -> None:
    r = run(
        Operation.DISABLE, VolumeType.DATA, vm_datadisk_0=VolumeState.ENCRYPTED, vm_datadisk_1=VolumeState.ENCRYPTED
    )
    assert evaluate(r, VOLS, RATES, at(121)).status.message == "Decryption started"
    mid = evaluate(r, VOLS, RATES, at(120 + 3600))
    assert mid.data == "DecryptionInProgress" and mid.status.message == "Decrypting data volume 1/2: 50%"
    done = evaluate(r, VOLS, RATES, at(120 + 10800))
    assert done.done and done.data == "NotEncrypted" and done.status.message == "Decryption succeeded"


def test_volume_type_is_case_insensitive() -> None:
    assert VolumeType.parse("DATA") is VolumeType.DATA
    assert VolumeType.parse("all") is VolumeType.ALL
