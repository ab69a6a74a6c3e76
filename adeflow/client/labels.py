"""A run's static summary and details as the client sends them, readable in the UI even with payload encryption.

The SDK passes the summary through the payload codec like any payload, so with ``ADEFLOW_CODEC_KEYS`` set the
Temporal UI (without a codec server) showed an empty summary. The summary holds only what the workflow id and the
search attributes show in plain text anyway (``adeflow.domain.run_labels``), so with the codec on it is sent as a
plain payload that says the rest is encrypted; the details stay encrypted like every other payload.
"""

from __future__ import annotations

from typing import TypedDict, cast

from temporalio.client import Client

from adeflow.domain.run_labels import ENCRYPTED_NOTE


class StartLabels(TypedDict):
    static_summary: str
    static_details: str


def start_labels(client: Client, summary: str, details: str) -> StartLabels:
    """``static_summary`` and ``static_details`` for ``start_workflow``."""
    converter = client.data_converter
    if converter.payload_codec is None:
        return StartLabels(static_summary=summary, static_details=details)
    plain = converter.payload_converter.to_payloads([f"{summary} · {ENCRYPTED_NOTE}"])[0]
    # The SDK takes a ready payload as the summary (and skips the codec for it); its signature says only str.
    return StartLabels(static_summary=cast(str, plain), static_details=details)
