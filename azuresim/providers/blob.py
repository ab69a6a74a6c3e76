"""The disks' page-blob data plane over HTTP, on the simulator's own HTTPS host (``/_blob/<container>/abcd?<SAS>``).

Not ARM: no bearer token, a SAS in the query instead, XML answers and ``x-ms-error-code`` as the Blob service
sends them, so ``azure-storage-blob``'s ``BlobClient.from_blob_url(sas_url)`` works unchanged:

- Get Blob Properties (``HEAD``): ``Content-Length`` (the disk plus its VHD footer), ``x-ms-blob-type: PageBlob``.
- Get Page Ranges (``GET ?comp=pagelist``; ``x-ms-range``, ``marker``/``maxresults`` paging as
  ``list_page_ranges`` sends them): ``<PageList><PageRange><Start>…</Start><End>…</End></PageRange>…``.
- Put Page From URL (``PUT ?comp=page``, ``x-ms-page-write: update``, ``x-ms-range``, ``x-ms-copy-source``: a read
  SAS of another disk on this simulator, ``x-ms-source-range``): 201; the target's pages get the source's extents.
- Put Page with a body (``x-ms-page-write: update``) and Clear Pages (``x-ms-page-write: clear``).

A write is answered when its transfer would end on the disks' throughput lanes (simulated time), or 503
``ServerBusy`` when the disk's queue is too long; faults ``server_busy`` and ``sas_expiry`` act here too. The
rules and errors are :mod:`azuresim.state.pageblob`. Every request lands in the request log (operations
``GetBlobProperties``, ``GetPageRanges``, ``PutPageFromURL``, ``PutPage``, ``ClearPage``; ``detail`` names the
disks and ranges of a write).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from xml.sax.saxutils import escape

from aiohttp import web

from azuresim.clock import SimClock
from azuresim.http import DETAIL
from azuresim.state.compute import ManagedDisk
from azuresim.state.pageblob import (
    PATH,
    BlobError,
    body_extent,
    http_date,
    invalid_header,
    page_list,
    page_range,
    parse_range,
    range_header,
)
from azuresim.state.world import SimState

XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>'
MAX_PAGE_RANGES = 10_000
POLL_S = 0.05
READS = {"GetBlobProperties", "GetPageRanges"}


def operation_of(request: web.Request) -> str:
    comp = request.query.get("comp", "").lower()
    if request.method == "HEAD" and not comp:
        return "GetBlobProperties"
    if request.method == "GET" and comp == "pagelist":
        return "GetPageRanges"
    if request.method == "PUT" and comp == "page":
        if request.headers.get("x-ms-copy-source"):
            return "PutPageFromURL"
        return "ClearPage" if request.headers.get("x-ms-page-write", "").lower() == "clear" else "PutPage"
    return "Unknown"


async def serve(state: SimState, request: web.Request, operation: str) -> web.Response:
    """Answer one data-plane request (see the module docstring); the caller records it."""
    try:
        response = await _handle(state, request, operation)
    except BlobError as exc:
        response = _error(exc, state.clock.now(), head=request.method == "HEAD")
    response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
    response.headers.setdefault("x-ms-version", request.headers.get("x-ms-version", "2018-03-28"))
    response.headers.setdefault("Date", http_date(state.clock.now()))
    return response


def _error(exc: BlobError, now: datetime, *, head: bool) -> web.Response:
    headers = {"x-ms-error-code": exc.code, **exc.headers}
    if head:
        return web.Response(status=exc.status, headers=headers)
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in exc.fields.items())
    message = escape(f"{exc.message}\nRequestId:{uuid.uuid4()}\nTime:{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z")
    body = f"{XML_HEAD}<Error><Code>{exc.code}</Code><Message>{message}</Message>{fields}</Error>"
    return web.Response(status=exc.status, text=body, content_type="application/xml", headers=headers)


def _etag(disk: ManagedDisk) -> str:
    return f'"0x8D{abs(hash((disk.unique_id, len(disk.pages), disk.pages.written_bytes))) % 16**13:013X}"'


def _blob_headers(disk: ManagedDisk, now: datetime) -> dict[str, str]:
    return {"ETag": _etag(disk), "Last-Modified": http_date(now), "x-ms-blob-sequence-number": "0"}


async def _handle(state: SimState, request: web.Request, operation: str) -> web.Response:
    m = PATH.match(request.path)
    if m is None or operation == "Unknown":
        raise BlobError(
            400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb or query on a disk SAS."
        )
    body = await request.read() if operation == "PutPage" else b""
    query = dict(request.query)
    with state.lock:
        now = state.clock.now()
        disk = state.blobs.authorize(m["container"], m["blob"], query, "r" if operation in READS else "w", now)
        busy = state.faults.take_disk("server_busy", disk.name, operation)
        if busy is not None:
            headers = {"Retry-After": str(busy.fault.retry_after)}
            raise BlobError(503, "ServerBusy", busy.fault.message or "The server is busy.", headers=headers)
        if operation == "GetBlobProperties":
            return _properties(disk, now)
        if operation == "GetPageRanges":
            return _page_ranges(disk, request, now)
        if request.headers.get("x-ms-page-write", "").lower() not in ("update", "clear"):
            raise invalid_header("x-ms-page-write", request.headers.get("x-ms-page-write", ""))
        lo, hi = page_range(request.headers, "x-ms-range", disk.blob_bytes)
        source = None
        lanes = [disk]
        if operation == "PutPageFromURL":
            source = state.blobs.copy_source(request.headers, hi - lo, now)
            lanes.append(source.disk)
            request[DETAIL] = (
                f"source={source.disk.name} bytes={source.lo}-{source.lo + hi - lo - 1} "
                f"target={disk.name} bytes={lo}-{hi - 1}"
            )
        elif operation == "PutPage" and len(body) != hi - lo:
            raise invalid_header("Content-Length", str(len(body)))
        else:
            request[DETAIL] = f"target={disk.name} bytes={lo}-{hi - 1}"
        moved = 0 if operation == "ClearPage" else hi - lo
        done_at = state.blobs.reserve(lanes, moved, now, state.clock.scale) if moved else now
    await wait_until(state.clock, done_at)
    with state.lock:
        if source is not None:
            disk.pages.copy_from(source.disk.pages, source.lo, lo, hi - lo)
        elif operation == "PutPage":
            disk.pages.write(lo, hi, [body_extent(lo, body)])
        else:
            disk.pages.clear(lo, hi)
        headers = {**_blob_headers(disk, state.clock.now()), "x-ms-request-server-encrypted": "true"}
    return web.Response(status=201, headers=headers)


async def wait_until(clock: SimClock, at: datetime) -> None:
    """Sleep until the simulated clock reaches ``at`` (a manual ``advance`` ends the wait too)."""
    while (left := (at - clock.now()).total_seconds()) > 0:
        await asyncio.sleep(min(POLL_S, left / clock.scale))


def _properties(disk: ManagedDisk, now: datetime) -> web.Response:
    headers = {
        **_blob_headers(disk, now),
        "Content-Length": str(disk.blob_bytes),
        "Content-Type": "application/octet-stream",
        "x-ms-blob-type": "PageBlob",
        "x-ms-creation-time": http_date(disk.time_created),
        "x-ms-lease-status": "unlocked",
        "x-ms-lease-state": "available",
        "x-ms-server-encrypted": "true",
        "Accept-Ranges": "bytes",
    }
    return web.Response(status=200, headers=headers)


RANGE_DIGESTS_HEADER = "x-azuresim-page-digests"
"""The simulator's own header (Azure sends none): each listed range's checksum, ``<start>-<end>=<digest>`` (end
inclusive), comma-separated, so a copy can be compared range by range (docs/ade-migration.md, the disk copy, 5)."""
MAX_DIGESTS_HEADER = 6000
"""Bytes: HTTP clients refuse longer header lines (aiohttp: 8190); ranges past it are listed without a checksum."""


def _range_digests(disk: ManagedDisk, ranges: list[tuple[int, int]]) -> str:
    items: list[str] = []
    size = 0
    for start, end in ranges:
        item = f"{start}-{end - 1}={disk.pages.fingerprint(start, end)}"
        size += len(item) + 1
        if size > MAX_DIGESTS_HEADER:
            break
        items.append(item)
    return ",".join(items)


def _page_ranges(disk: ManagedDisk, request: web.Request, now: datetime) -> web.Response:
    lo, hi = 0, disk.blob_bytes
    if range_header(request.headers, "x-ms-range") is not None:
        lo, hi = parse_range(request.headers, "x-ms-range", open_end=disk.blob_bytes)
        if lo >= disk.blob_bytes:
            raise BlobError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
    raw_limit = request.query.get("maxresults", "")
    limit = min(int(raw_limit), MAX_PAGE_RANGES) if raw_limit.isdigit() and int(raw_limit) > 0 else MAX_PAGE_RANGES
    ranges, next_marker = page_list(disk, lo, min(hi, disk.blob_bytes), request.query.get("marker"), limit)
    items = "".join(f"<PageRange><Start>{a}</Start><End>{b - 1}</End></PageRange>" for a, b in ranges)
    marker = f"<NextMarker>{next_marker}</NextMarker>" if next_marker else ""
    headers = {**_blob_headers(disk, now), "x-ms-blob-content-length": str(disk.blob_bytes)}
    digests = _range_digests(disk, ranges)
    if digests:
        headers[RANGE_DIGESTS_HEADER] = digests
    body = f"{XML_HEAD}<PageList>{items}{marker}</PageList>"
    return web.Response(status=200, text=body, content_type="application/xml", headers=headers)
