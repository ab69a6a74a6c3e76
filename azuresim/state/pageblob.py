"""The page-blob data plane behind a disk's SAS URL, without HTTP: SAS checks, per-disk throughput, page writes.

A disk granted access (:func:`azuresim.state.disks.grant_access`) is reachable at
``https://<sim host>/_blob/<disk uniqueId>/abcd?sv=…&sr=b&si=<grant>&st=…&se=…&sp=r|rw&sig=…``, like the
``md-….blob.storage.azure.net/<container>/abcd`` URLs of Azure. The checks, in Azure's words:

- the signature must be one this simulator issued for this disk and not revoked by endGetAccess, else 403
  ``AuthenticationFailed``; past its expiry ``se`` (on the scaled clock) also 403 ``AuthenticationFailed``
  ("Signature not valid in the specified time frame"); a permission the SAS lacks (a write with a read SAS),
  403 ``AuthorizationPermissionMismatch``;
- a page range must be 512-byte aligned, at most 4 MiB, inside the blob, else 416 ``InvalidPageRange``;
- a copy source that does not authorise a read answers 403 ``CannotVerifyCopySource`` with the source's status
  and code in ``x-ms-copy-source-status-code`` / ``x-ms-copy-source-error-code``.

Sources: the Blob service REST reference (Put Page From URL, Get Page Ranges, error codes); inferred: 416
``InvalidPageRange`` (not a 400) for a range over 4 MiB, and the source's status in the copy-source headers.

Throughput: each disk serves ``sim.disk_mb_per_s`` MiB per simulated second (a copy charges its source and its
target). A write is scheduled on the disks' lanes and answered when its transfer would end; one whose turn is more
than ``sim.disk_queue_s`` simulated seconds away answers 503 ``ServerBusy`` with ``Retry-After``, as a storage
target over its limit does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from azuresim.state.compute import DiskAccess, ManagedDisk, SasGrant
from azuresim.state.extents import Extent

PAGE = 512
MAX_PAGE_WRITE = 4 * 1024 * 1024
MIB = 1024 * 1024
SAS_VERSION = "2018-03-28"
BLOB_NAME = "abcd"
PATH = re.compile(r"^/_blob/(?P<container>[^/]+)/(?P<blob>[^/]+)$")
_RANGE = re.compile(r"^bytes=(?P<lo>\d+)-(?P<hi>\d*)$")
AUTH_MESSAGE = (
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly "
    "including the signature."
)


class BlobError(Exception):
    """A Blob service error: ``<Error><Code>…`` with the HTTP status, ``x-ms-error-code`` and extra XML fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.fields = fields or {}


def invalid_range() -> BlobError:
    return BlobError(416, "InvalidPageRange", "The page range specified is invalid.")


def invalid_header(name: str, value: str) -> BlobError:
    return BlobError(
        400,
        "InvalidHeaderValue",
        "The value for one of the HTTP headers is not in the correct format.",
        fields={"HeaderName": name, "HeaderValue": value},
    )


def sas_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(ts: datetime) -> str:
    return format_datetime(ts.astimezone(UTC), usegmt=True)


def missing_header(name: str) -> BlobError:
    return BlobError(
        400,
        "MissingRequiredHeader",
        "An HTTP header that's mandatory for this request is not specified.",
        fields={"HeaderName": name},
    )


def range_header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value; the Range header stands in for a missing ``x-ms-range``."""
    return headers.get(name) or (headers.get("Range") if name == "x-ms-range" else None)


def parse_range(headers: Mapping[str, str], name: str, open_end: int | None = None) -> tuple[int, int]:
    """``bytes=lo-hi`` (inclusive) → ``(lo, hi + 1)``; ``bytes=lo-`` reaches ``open_end`` where one is allowed."""
    raw = range_header(headers, name)
    if raw is None:
        raise missing_header(name)
    m = _RANGE.match(raw.strip())
    if m is None or (not m["hi"] and open_end is None) or (m["hi"] and int(m["hi"]) < int(m["lo"])):
        raise invalid_header(name, raw)
    return int(m["lo"]), int(m["hi"]) + 1 if m["hi"] else max(int(m["lo"]), open_end or 0)


def page_range(headers: Mapping[str, str], name: str, blob_bytes: int) -> tuple[int, int]:
    """A range to write: aligned to 512-byte pages, at most 4 MiB, inside the blob."""
    lo, hi = parse_range(headers, name)
    if lo % PAGE or hi % PAGE or hi - lo > MAX_PAGE_WRITE or hi > blob_bytes:
        raise invalid_range()
    return lo, hi


@dataclass(frozen=True)
class CopySource:
    disk: ManagedDisk
    lo: int


class BlobPlane:
    """SAS URLs and the disks behind them, and each disk's throughput lane."""

    def __init__(self, mb_per_s: float, queue_s: float) -> None:
        self.mb_per_s = mb_per_s
        self.queue_s = queue_s
        self._key = secrets.token_bytes(32)
        self.containers: dict[str, ManagedDisk] = {}
        self._lanes: dict[str, datetime] = {}

    # ------------------------------------------------------------------------------------------ SAS

    def _sign(self, container: str, grant_id: str, sp: str, st: str, se: str) -> str:
        text = "\n".join((sp, st, se, f"/blob/{container}/{BLOB_NAME}", grant_id, SAS_VERSION))
        return base64.b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode()

    def grant(self, disk: ManagedDisk, access: DiskAccess, now: datetime, seconds: float, base_url: str) -> str:
        """Issue a SAS URL for ``disk`` (Write access reads and writes, as the upload SAS of a managed disk)."""
        sp = "rw" if access.level == "Write" else "r"
        grant_id = secrets.token_hex(16)
        expires = now + timedelta(seconds=seconds)
        st, se = sas_time(now), sas_time(expires)
        signature = self._sign(disk.unique_id, grant_id, sp, st, se)
        access.grants.append(SasGrant(grant_id, sp, now, expires, signature))
        self.containers[disk.unique_id] = disk
        query = {"sv": SAS_VERSION, "sr": "b", "si": grant_id, "st": st, "se": se, "sp": sp, "sig": signature}
        return f"{base_url}/_blob/{disk.unique_id}/{BLOB_NAME}?{urlencode(query)}"

    def authorize(self, container: str, blob: str, query: Mapping[str, str], need: str, now: datetime) -> ManagedDisk:
        """The disk a SAS request may use with permission ``need`` (``r`` or ``w``), or the Blob service's 403/404."""
        disk = self.containers.get(container)
        if disk is None or blob != BLOB_NAME:
            raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
        grant_id, signature = query.get("si", ""), query.get("sig", "")
        grants = disk.access.grants if disk.access is not None else []
        grant = next((g for g in grants if g.id == grant_id), None)
        if grant is None or not hmac.compare_digest(grant.signature, signature):
            detail = "Signature did not match or the access it grants was revoked (endGetAccess)."
            raise BlobError(403, "AuthenticationFailed", AUTH_MESSAGE, fields={"AuthenticationErrorDetail": detail})
        if now >= grant.expires_at:
            detail = (
                f"Signature not valid in the specified time frame: Start [{http_date(grant.granted_at)}] - "
                f"Expiry [{http_date(grant.expires_at)}] - Current [{http_date(now)}]"
            )
            raise BlobError(403, "AuthenticationFailed", AUTH_MESSAGE, fields={"AuthenticationErrorDetail": detail})
        if need not in grant.permissions:
            raise BlobError(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            )
        return disk

    def copy_source(self, headers: Mapping[str, str], length: int, now: datetime) -> CopySource:
        """``x-ms-copy-source`` (a read SAS of a disk on this simulator) and ``x-ms-source-range``."""
        url = headers.get("x-ms-copy-source")
        if not url:
            raise missing_header("x-ms-copy-source")
        parts = urlsplit(url)
        m = PATH.match(parts.path)
        try:
            if m is None:
                raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
            disk = self.authorize(m["container"], m["blob"], dict(parse_qsl(parts.query)), "r", now)
        except BlobError as exc:
            raise BlobError(
                exc.status,
                "CannotVerifyCopySource",
                exc.message,
                headers={"x-ms-copy-source-status-code": str(exc.status), "x-ms-copy-source-error-code": exc.code},
            ) from exc
        lo, hi = parse_range(headers, "x-ms-source-range")
        if hi - lo != length:
            raise invalid_header("x-ms-source-range", headers.get("x-ms-source-range", ""))
        if lo % PAGE or hi > disk.blob_bytes:
            raise invalid_range()
        return CopySource(disk, lo)

    # ------------------------------------------------------------------------------------------ throughput

    def reserve(self, disks: list[ManagedDisk], nbytes: int, now: datetime, scale: float) -> datetime:
        """Schedule a transfer of ``nbytes`` on these disks' lanes; returns when it ends (simulated time)."""
        rate = min(d.mb_per_s or self.mb_per_s for d in disks) * MIB
        start = max([now, *(self._lanes.get(d.unique_id, now) for d in disks)])
        wait = (start - now).total_seconds()
        if wait > self.queue_s:
            retry = max(1, math.ceil((wait - self.queue_s) / scale))
            headers = {"Retry-After": str(retry)}
            raise BlobError(503, "ServerBusy", "Ingress is over the account limit.", headers=headers)
        finish = start + timedelta(seconds=nbytes / rate)
        for d in disks:
            self._lanes[d.unique_id] = finish
        return finish


def body_extent(lo: int, body: bytes) -> Extent:
    """The pages a Put Page with a body writes: a stream named by the body's hash."""
    return Extent(lo, lo + len(body), "put:" + hashlib.sha256(body).hexdigest()[:32])


def page_list(disk: ManagedDisk, lo: int, hi: int, marker: str | None, limit: int) -> tuple[list[tuple[int, int]], str]:
    """Get Page Ranges: written ranges in ``[lo, hi)`` from ``marker`` on, at most ``limit``; and the next marker."""
    start = max(lo, int(marker)) if marker and marker.isdigit() else lo
    ranges = disk.pages.ranges(start, hi)
    if len(ranges) <= limit:
        return ranges, ""
    return ranges[:limit], str(ranges[limit][0])
