"""Payload encryption for everything adeflow stores in Temporal: AES-256-GCM with rotating keys.

Workflow inputs, results, activity arguments, heartbeats and user metadata leave the process encrypted, so a
Temporal cluster (or Temporal Cloud) holds resource ids, vault ids and operator statements only as ciphertext.
Each payload names the key that sealed it (``encryption-key-id`` metadata), so keys rotate: add a new key in
front, keep the old ones for as long as histories sealed with them must stay readable.

Keys come from ``ADEFLOW_CODEC_KEYS`` (``id:base64,id2:base64``) or ``ADEFLOW_CODEC_KEY_FILE`` (one ``id base64``
per line, ``#`` comments); the first key seals, every key opens. Workflow ids and search attributes are not
payloads and stay readable by design: operators query them (they hold names, never secrets).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.common import HeaderCodecBehavior
from temporalio.converter import DataConverter, PayloadCodec, PayloadConverter

from adeflow.client.errors import BadInput
from adeflow.client.failures import QuietBenignFailureConverter
from adeflow.inputs.secret_files import SecretFileError, read_secret_file

ENCODING = b"binary/encrypted"
CIPHER = b"AES256-GCM"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32


class CodecKeyError(BadInput):
    """The key configuration is unusable, or a payload was sealed with a key this process does not hold."""


@dataclass(frozen=True)
class CodecKeys:
    """Keys by id, in order: the first seals new payloads."""

    keys: tuple[tuple[str, bytes], ...]

    @property
    def active(self) -> tuple[str, bytes]:
        return self.keys[0]

    def get(self, key_id: str) -> bytes | None:
        return dict(self.keys).get(key_id)

    @staticmethod
    def parse(entries: Sequence[tuple[str, str]], where: str) -> CodecKeys:
        parsed: list[tuple[str, bytes]] = []
        for key_id, encoded in entries:
            if not key_id or any(c.isspace() or c in ":," for c in key_id):
                raise CodecKeyError(f"{where}: key id {key_id!r} must be a word without spaces, ':' or ','")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise CodecKeyError(f"{where}: key {key_id!r} is not base64") from exc
            if len(key) != KEY_BYTES:
                raise CodecKeyError(f"{where}: key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}")
            if any(key_id == seen for seen, _ in parsed):
                raise CodecKeyError(f"{where}: key id {key_id!r} appears twice")
            parsed.append((key_id, key))
        if not parsed:
            raise CodecKeyError(f"{where}: no keys")
        return CodecKeys(tuple(parsed))

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> CodecKeys | None:
        """The configured keys, or ``None`` when the codec is off (neither variable set)."""
        env = os.environ if env is None else env
        inline = env.get("ADEFLOW_CODEC_KEYS", "").strip()
        path = env.get("ADEFLOW_CODEC_KEY_FILE", "").strip()
        if inline and path:
            raise CodecKeyError("set ADEFLOW_CODEC_KEYS or ADEFLOW_CODEC_KEY_FILE, not both")
        if inline:
            pairs = [item.split(":", 1) for item in inline.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise CodecKeyError("ADEFLOW_CODEC_KEYS: expected id:base64[,id:base64...]")
            return CodecKeys.parse([(i.strip(), k.strip()) for i, k in pairs], "ADEFLOW_CODEC_KEYS")
        if path:
            try:
                lines = read_secret_file(path, "ADEFLOW_CODEC_KEY_FILE").splitlines()
            except SecretFileError as exc:
                raise CodecKeyError(str(exc)) from None
            entries = []
            for number, line in enumerate(lines, 1):
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                parts = text.split()
                if len(parts) != 2:
                    raise CodecKeyError(f"{path}:{number}: expected '<key-id> <base64 key>'")
                entries.append((parts[0], parts[1]))
            return CodecKeys.parse(entries, path)
        return None


def new_key_line(key_id: str) -> str:
    """A fresh key in the key-file format (``adeflow codec new-key``)."""
    return f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    """Seals each payload whole (metadata included) so encodings and types are hidden too."""

    def __init__(self, keys: CodecKeys) -> None:
        self._keys = keys

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id, key = self._keys.active
        aead = AESGCM(key)
        sealed = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            data = nonce + aead.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            sealed.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: key_id.encode(), "encryption-cipher": CIPHER}, data=data
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # written before the codec was switched on
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            key = self._keys.get(key_id)
            if key is None:
                raise CodecKeyError(
                    f"payload sealed with key {key_id!r}, which this process does not hold; add it (after the "
                    "active key) to ADEFLOW_CODEC_KEYS or ADEFLOW_CODEC_KEY_FILE"
                )
            nonce, body = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            try:
                plain = AESGCM(key).decrypt(nonce, body, key_id.encode())
            except InvalidTag as exc:
                raise CodecKeyError(f"payload sealed with key {key_id!r} does not authenticate: wrong key?") from exc
            opened.append(Payload.FromString(plain))
        return opened


SEALED_FAILURE_MESSAGE = "Encoded failure"
"""What a sealed failure's ``message`` says in the stored history (the SDK's own wording, which the UI knows)."""


class SealedFailureConverter(QuietBenignFailureConverter):
    """Moves each failure's message and stack trace into its encoded attributes, which the codec seals.

    Failure messages quote ARM, the extension and adeflow's own explanations (resource ids, vault names, the
    guest's error text), so they are as sensitive as payloads. This is the SDK's ``encode_common_attributes``,
    applied after the benign-failure trace is dropped; causes are sealed too (the base class recurses through
    this method). A client or worker with the key reads the original message; the server and a client without
    it see ``Encoded failure``. Failure *types* (the reason codes, ARM error codes) and retry flags stay readable:
    they are not payloads, and they are what the UI lists and operators filter on.
    """

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
        super().to_failure(exception, payload_converter, failure)
        if failure.message == SEALED_FAILURE_MESSAGE and failure.HasField("encoded_attributes"):
            return  # a failure re-raised as received, still sealed
        attributes = {"message": failure.message, "stack_trace": failure.stack_trace}
        failure.encoded_attributes.CopyFrom(payload_converter.to_payloads([attributes])[0])
        failure.message = SEALED_FAILURE_MESSAGE
        failure.stack_trace = ""


def data_converter(keys: CodecKeys | None) -> DataConverter:
    """The SDK's default converter (benign failures without stack traces), with the codec when keys are set.

    With keys, payloads and failure messages are sealed (:class:`SealedFailureConverter`)."""
    converter = dataclasses.replace(DataConverter.default, failure_converter_class=QuietBenignFailureConverter)
    if keys is None:
        return converter
    return dataclasses.replace(
        converter, payload_codec=EncryptionCodec(keys), failure_converter_class=SealedFailureConverter
    )


def header_codec(keys: CodecKeys | None) -> HeaderCodecBehavior:
    """With keys, headers (the activities' log context, ``worker/interceptors.py``) are sealed like payloads."""
    return HeaderCodecBehavior.NO_CODEC if keys is None else HeaderCodecBehavior.CODEC


def client_codec_options(keys: CodecKeys | None) -> dict[str, Any]:
    """``Client.connect`` options for these keys: the data converter and the header codec, always together."""
    return {"data_converter": data_converter(keys), "header_codec_behavior": header_codec(keys)}
