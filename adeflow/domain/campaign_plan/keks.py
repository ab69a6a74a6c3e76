"""KEK URLs as Azure reports them: one normal form to compare by, the fleet's KEKs in use, a version's age."""

from __future__ import annotations

from datetime import datetime

from adeflow.domain import values
from adeflow.domain.campaign_plan.payloads import VmReading
from adeflow.domain.model import KeyEncryptionKey


def parse_kek(url: str) -> tuple[str, str, str] | None:
    """(vault host, key name, version or "") of a key URL as Azure reports it, lower-cased; None if it is not one.

    The grammar is :func:`adeflow.domain.values.parse_reported_key_url`, the one every KEK input is checked by.
    """
    try:
        key = values.parse_reported_key_url(url)
    except ValueError:
        return None
    return f"{key.vault}.{key.suffix}", key.name.lower(), key.version


def normalise_kek(url: str) -> str:
    """Key URLs compare without case, port 443 or a trailing slash (Key Vault answers with ``:443``)."""
    parts = parse_kek(url)
    if parts is None:
        return url.strip().rstrip("/").lower()
    host, name, version = parts
    return f"https://{host}/keys/{name}" + (f"/{version}" if version else "")


def keks_in_use(readings: list[VmReading]) -> list[KeyEncryptionKey]:
    """Distinct versioned KEKs in the fleet's extension settings, each once (for one Key Vault read apiece)."""
    seen: dict[str, KeyEncryptionKey] = {}
    for reading in readings:
        ext = reading.facts.ade_extension if reading.facts else None
        if ext is None or not ext.key_encryption_key_url:
            continue
        key = normalise_kek(ext.key_encryption_key_url)
        vault = ext.kek_vault_resource_id or ext.key_vault_resource_id
        if key not in seen and vault:
            seen[key] = KeyEncryptionKey(key, vault)
    return list(seen.values())


def age_days(later: datetime, earlier: datetime | None) -> float | None:
    """Days from ``earlier`` (a KEK version's creation) to ``later``, to a tenth; None when it is not known."""
    if earlier is None:
        return None
    return round((later - earlier).total_seconds() / 86400.0, 1)
