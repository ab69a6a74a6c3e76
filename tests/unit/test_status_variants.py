"""Every way the ADE extension words its status (docs/arm-reference.md §0.1, §c), read by the parser and decided by
the progress rules: what is readable is used, what is not is said, and a final top-level status over an unreadable
substatus ends the wait at once instead of at the run's deadline (R-ENA-4, R-LIM-2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from adeflow.domain.arm_parse import parse_extension_status, read_substatus
from adeflow.domain.model import EncryptionStatus, VolumeState, VolumeType
from adeflow.domain.rules import ProgressKind, assess_disable_progress, assess_encryption_progress
from adeflow.domain.rules.verification import top_level_reports_encrypted, verify_encryption
from tests.support.domain_facts import ade_extension, vm_facts

ENC, PROG, NOT = VolumeState.ENCRYPTED, VolumeState.ENCRYPTION_IN_PROGRESS, VolumeState.NOT_ENCRYPTED
UNKNOWN, MOUNTLESS = VolumeState.UNKNOWN, VolumeState.NOT_MOUNTED
SUCCEEDED = ("ProvisioningState/succeeded", "Info")


def substatus(message: Any) -> list[dict[str, Any]]:
    return [
        {"code": "ComponentStatus/Microsoft.Azure.Security.AzureDiskEncryptionForLinux/succeeded/0", "message": message}
    ]


@pytest.mark.parametrize(
    ("substatuses", "os", "data", "why"),
    [
        (substatus('{"data": "Encrypted", "os": "NotEncrypted"}'), NOT, ENC, ""),
        (substatus('{"os": "EncryptionInProgress", "data": "NotMounted"}'), PROG, MOUNTLESS, ""),  # keys reordered
        (substatus('{"OS": "encrypted", "Data": "ENCRYPTED"}'), ENC, ENC, ""),  # other casing, keys and values
        (substatus('{"data": " Encrypted ", "os": "encryptioninprogress"}'), PROG, ENC, ""),
        (substatus('{"data": "Encrypting", "os": "Encrypted"}'), ENC, UNKNOWN, "unknown data value 'Encrypting'"),
        (substatus('{"data": "Encrypted", "os": "Unknown"}'), UNKNOWN, ENC, "unknown os value 'Unknown'"),
        (substatus('{"data": "Encrypted"}'), UNKNOWN, ENC, "no 'os' key"),
        (substatus("Encryption succeeded for all volumes"), UNKNOWN, UNKNOWN, "not JSON: 'Encryption succeeded"),
        (substatus('{"data": "Encrypted", "o'), UNKNOWN, UNKNOWN, "not JSON"),  # truncated
        (substatus('["Encrypted", "Encrypted"]'), UNKNOWN, UNKNOWN, "not a JSON object"),
        (substatus(""), UNKNOWN, UNKNOWN, "empty substatus message"),
        (substatus(None), UNKNOWN, UNKNOWN, "empty substatus message"),
        ([], UNKNOWN, UNKNOWN, "no substatus"),
        (None, UNKNOWN, UNKNOWN, "no substatus"),
        (["not an object"], UNKNOWN, UNKNOWN, "no substatus"),
    ],
)
def test_read_substatus_variants(substatuses: Any, os: VolumeState, data: VolumeState, why: str) -> None:
    got_os, got_data, got_why = read_substatus(substatuses)
    assert (got_os, got_data) == (os, data)
    assert (why in got_why) if why else got_why == ""


def test_a_long_unreadable_message_is_quoted_short() -> None:
    _, _, why = read_substatus(substatus("x" * 500))
    assert len(why) < 120 and why.endswith("...'")


def test_parse_extension_status_carries_why_and_describes_it() -> None:
    view = {
        "statuses": [{"code": SUCCEEDED[0], "level": "Info", "message": "Encryption succeeded for all volumes"}],
        "substatuses": substatus("Encryption succeeded for all volumes"),
    }
    status = parse_extension_status(view)
    assert (status.os, status.data) == (UNKNOWN, UNKNOWN)
    assert status.unreadable.startswith("substatus message is not JSON")
    assert "[substatus unreadable: substatus message is not JSON" in status.describe()
    assert parse_extension_status({"statuses": [], "substatuses": substatus('{"data":"Encrypted","os":"Encrypted"}')})


def status(os: VolumeState, data: VolumeState, message: str, unreadable: str = "", **top: str) -> EncryptionStatus:
    code, level = top.get("code", SUCCEEDED[0]), top.get("level", SUCCEEDED[1])
    return EncryptionStatus(os, data, message=message, level=level, code=code, unreadable=unreadable)


NOT_JSON = "substatus message is not JSON: 'x'"
STRIPDOWN = {"code": "ProvisioningState/failed/19", "level": "Error"}
UNMOUNT = {"code": "ProvisioningState/failed/22", "level": "Error"}


@pytest.mark.parametrize(
    ("case", "volume_type", "kind", "says"),
    [
        (status(ENC, ENC, "Encryption succeeded for all volumes"), VolumeType.ALL, ProgressKind.DONE, ""),
        (status(PROG, PROG, "OS disk encryption started"), VolumeType.ALL, ProgressKind.WAITING, ""),
        # unreadable substatus, top-level not final: keep waiting (the deadline bounds it)
        (
            status(UNKNOWN, UNKNOWN, "Encrypting data volume 1/2: 37%", NOT_JSON),
            VolumeType.ALL,
            ProgressKind.WAITING,
            "",
        ),
        (status(UNKNOWN, UNKNOWN, "", "no substatus"), VolumeType.DATA, ProgressKind.WAITING, ""),
        # unreadable substatus, top-level final: decided now, and the verdict says how
        (
            status(UNKNOWN, UNKNOWN, "Encryption succeeded for all volumes", NOT_JSON),
            VolumeType.ALL,
            ProgressKind.DONE,
            "decided from its top-level status",
        ),
        (
            status(UNKNOWN, UNKNOWN, "Encryption succeeded for data volumes", "no substatus"),
            VolumeType.DATA,
            ProgressKind.DONE,
            "substatus was unreadable",
        ),
        (
            status(UNKNOWN, ENC, "encryption succeeded for OS volume", "unknown os value 'Done'"),
            VolumeType.OS,
            ProgressKind.DONE,
            "R-ENA-4",
        ),
        (
            status(UNKNOWN, UNKNOWN, "Encryption succeeded for data volumes", NOT_JSON),
            VolumeType.ALL,
            ProgressKind.FAILED,
            "not for volume type All",
        ),
        # a final message with a readable, unfinished substatus: the substatus wins (no guessing)
        (status(PROG, ENC, "Encryption succeeded for all volumes"), VolumeType.ALL, ProgressKind.WAITING, ""),
        # a final-looking message under an error code is not success
        (
            status(UNKNOWN, UNKNOWN, "Encryption succeeded for all volumes", NOT_JSON, **UNMOUNT),
            VolumeType.ALL,
            ProgressKind.FAILED,
            "reported an error",
        ),
        # transient errors mid-run with their real codes: keep waiting (arm-reference §c)
        (
            status(PROG, ENC, "Restarted extension from stripped down OS", **STRIPDOWN),
            VolumeType.ALL,
            ProgressKind.WAITING,
            "",
        ),
        (
            status(PROG, ENC, "Attempt #3 to unmount /oldroot failed with error: busy, stack trace: ...", **UNMOUNT),
            VolumeType.ALL,
            ProgressKind.WAITING,
            "",
        ),
        (
            status(UNKNOWN, UNKNOWN, "Restarted extension from stripped down OS", NOT_JSON, **STRIPDOWN),
            VolumeType.ALL,
            ProgressKind.WAITING,
            "",
        ),
    ],
)
def test_encryption_progress_from_what_is_readable(
    case: EncryptionStatus, volume_type: VolumeType, kind: ProgressKind, says: str
) -> None:
    verdict = assess_encryption_progress(case, volume_type)
    assert verdict.kind is kind, verdict.message
    assert says in verdict.message
    if kind is ProgressKind.FAILED and "not for volume type" in says:
        assert verdict.reason == "substatus-unreadable"


def test_disable_decided_from_the_top_level_when_the_substatus_is_unreadable() -> None:
    done = assess_disable_progress(status(UNKNOWN, UNKNOWN, "Decryption succeeded", "no substatus"))
    assert done.kind is ProgressKind.DONE and "decided from its top-level status" in done.message
    running = assess_disable_progress(status(UNKNOWN, UNKNOWN, "Decrypting data volume 1/1: 5%", NOT_JSON))
    assert running.kind is ProgressKind.WAITING


@pytest.mark.parametrize(
    ("message", "volume_type", "expected"),
    [
        ("Encryption succeeded for all volumes", VolumeType.OS, True),
        ("Encryption succeeded for data volumes", VolumeType.DATA, True),
        ("Encryption succeeded for OS volume", VolumeType.DATA, False),
        ("Encrypting data volume 1/1: 99%", VolumeType.DATA, None),
        ("OS disk encryption started", VolumeType.OS, None),
        ("", VolumeType.ALL, None),
    ],
)
def test_top_level_final_messages(message: str, volume_type: VolumeType, expected: bool | None) -> None:
    assert top_level_reports_encrypted(status(UNKNOWN, UNKNOWN, message, NOT_JSON), volume_type) is expected


def test_r_ena_4_verification_reads_a_final_top_level_status_and_the_disks_and_says_so() -> None:
    final = status(UNKNOWN, UNKNOWN, "Encryption succeeded for all volumes", NOT_JSON)
    facts = vm_facts(data_disks=1, ade_extension=ade_extension(status=final))
    stamped = replace(
        facts,
        os_disk=replace(facts.os_disk, instance_view_encrypted=True),
        data_disks=[replace(facts.data_disks[0], instance_view_encrypted=True)],
    )
    verdict = verify_encryption(stamped, VolumeType.ALL)
    assert verdict.ok and "substatus was unreadable" in verdict.message and "disks' encryption state" in verdict.message
    assert not verify_encryption(facts, VolumeType.ALL).ok  # the disks do not carry ADE settings: not proven
    running = replace(final, message="Encrypting data volume 1/1: 50%")
    assert not verify_encryption(replace(stamped, ade_extension=ade_extension(status=running)), VolumeType.ALL).ok
