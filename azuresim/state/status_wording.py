"""How the ADE extension words its substatus: the variants that real extension versions send.

The timeline (:mod:`azuresim.state.encryption`) says *what* the guest reports; this says *how* the message reads
for one VM (:class:`azuresim.fleet.ExtensionStatusSpec`): JSON in either key order, other casing, unknown words,
plain text as older versions wrote it, truncated JSON, or no substatus at all (docs/arm-reference.md §0.1).
"""

from __future__ import annotations

import json

from azuresim.fleet import ExtensionStatusSpec

PLAIN_TEXT_IDLE = "Encryption status is being collected"
"""The plain-text form while the top-level message is empty (e.g. while the settings are being stamped)."""


def _word(spec: ExtensionStatusSpec, value: str) -> str:
    value = spec.rename_values.get(value, value)
    if spec.value_case == "lower":
        return value.lower()
    if spec.value_case == "upper":
        return value.upper()
    return value


def substatus_message(spec: ExtensionStatusSpec, os: str, data: str, status_message: str, finished: bool) -> str | None:
    """``substatuses[0].message`` for the volumes' states ``os``/``data``; ``None`` when there is no substatus."""
    form = spec.substatus if spec.substatus_when == "always" or finished else "json"
    os_word, data_word = _word(spec, os), _word(spec, data)
    if form == "absent":
        return None
    if form == "plain_text":
        return status_message or PLAIN_TEXT_IDLE
    if form == "keys_reordered":
        return json.dumps({"os": os_word, "data": data_word})
    # Key order as Python 3's json.dumps of the extension's dict literal (data first).
    text = json.dumps({"data": data_word, "os": os_word})
    return text[: len(text) // 2] if form == "unparseable" else text
