"""The progress percent in the extension's status (adeflow/domain/arm_parse.py ``parse_progress``, issue 18): what
the poll schedule (adeflow/domain/polling.py) extrapolates from."""

from __future__ import annotations

from typing import Any

import pytest

from adeflow.domain.arm_parse import parse_extension_status, parse_progress
from adeflow.domain.model import ProgressMark

SUBSTATUS = '{"data": "EncryptionInProgress", "os": "EncryptionInProgress"}'


def view(message: str, substatus: str = SUBSTATUS) -> dict[str, Any]:
    return {
        "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "message": message}],
        "substatuses": [{"code": "ComponentStatus/EncryptionState/succeeded", "message": substatus}],
    }


@pytest.mark.parametrize(
    ("message", "substatus", "mark"),
    [
        ("Encrypting data volume 2/3: 40%", SUBSTATUS, ProgressMark(40, "data", 2, 3)),
        ("Decrypting data volume 1/1: 7%", SUBSTATUS, ProgressMark(7, "data", 1, 1)),
        ("Encrypting OS volume: 12%", SUBSTATUS, ProgressMark(12, "os")),
        ("encrypting DATA VOLUME 1 / 2: 99.5 %", SUBSTATUS, ProgressMark(99, "data", 1, 2)),
        ("Encryption in progress: 55% done", SUBSTATUS, ProgressMark(55)),
        ("", '{"os": "EncryptionInProgress", "data": "NotMounted", "percent": 31}', ProgressMark(31)),
        ("", '{"Progress": 64.2, "os": "EncryptionInProgress"}', ProgressMark(64)),
        ("Encrypting 2 data volumes", SUBSTATUS, None),
        ("OS disk encryption started", SUBSTATUS, None),
        ("Restarted extension from stripped down OS", "not json", None),
        ("", '{"percent": "n/a"}', None),
    ],
)
def test_progress_percent_of_a_volume_or_of_the_whole_operation(
    message: str, substatus: str, mark: ProgressMark | None
) -> None:
    assert parse_progress(view(message, substatus)) == mark
    assert parse_extension_status(view(message, substatus)).progress == mark


def test_no_instance_view_no_progress() -> None:
    assert parse_progress(None) is None
    assert parse_progress({}) is None
