"""The data-plane half of a disk copy: disk SAS grants, page-range listings, and the parallel Put Page From URL loop
with its checkpoints (docs/ade-migration.md, the disk copy, steps 2-4; the arithmetic is
:mod:`adeflow.domain.migration.copy`).

- :class:`CopyBeat` heartbeats ``(text, checkpoint, target uniqueId)`` from the first moment of an attempt, so a
  worker killed at any point leaves the newest checkpoint it had, never an older one or none.
- :class:`SasGrants` opens (``beginGetAccess``), renews and revokes (``endGetAccess``) the disks' SAS and keeps each
  window as evidence. A SAS that stops working mid-copy (403 ``AuthenticationFailed``: expired, or revoked by a
  stale attempt) is granted again once, however many calls saw it fail.
- :class:`PageCopier` copies the planned chunks with bounded parallelism. It takes a checkpoint before the bytes
  copied since the last one plus the bytes in flight could pass ``checkpoint_bytes`` (and a fresh one for every
  keep-alive beat), so an attempt killed at any moment loses at most one checkpoint of copying, counted from the
  last heartbeat that reached Temporal. Temporal sends an activity's heartbeats at most every 0.8 x its heartbeat
  timeout (the newest details then), so after a real worker kill the loss is at most the larger of one checkpoint
  and what one disk copies in that interval: a workflow keeps ``checkpoint_bytes`` above the latter.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineResponse
from azure.mgmt.compute.models import GrantAccessData
from azure.storage.blob.aio import BlobClient
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure import blob
from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from adeflow.domain.migration import (
    RANGE_DIGESTS_HEADER,
    CopyCheckpoint,
    CopyDiskFacts,
    CopyTracker,
    PageRange,
    RangeDigest,
    SasWindow,
    parse_range_digests,
)
from adeflow.domain.resource_ids import parse_resource_id
from adeflow.domain.vocabulary import Reason

log = structlog.get_logger(__name__)

HEARTBEAT_EVERY_S = 5.0
"""A keep-alive heartbeat at least this often (or a third of the heartbeat timeout, when shorter)."""
COPY_STALL_S = 300.0
"""No page copied for this long (ServerBusy, dropped connections) fails the attempt, retryable, with the checkpoint
kept: the run shows a stalled copy instead of an activity that hangs until its timeout."""
MAX_RENEWALS_WITHOUT_PROGRESS = 3
"""A SAS that keeps failing right after being granted again (a clock far off, a duration of seconds) is not renewed
for ever."""
BUSY_PAUSE_S = 5.0
"""Pause before trying a range again after the SDK gave up on a busy service without a ``Retry-After``."""
LISTING_PAGE = 5000


# -- heartbeats --------------------------------------------------------------------------------------------------


class CopyBeat:
    """The copy's heartbeat details, kept current and sent on every checkpoint and at least every few seconds."""

    def __init__(self, details: Sequence[Any]) -> None:
        """Until the target is read, an attempt re-sends the details it inherited (a retry that dies early must not
        erase its predecessor's checkpoint)."""
        self.text = str(details[0]) if details else "starting the disk copy"
        self.checkpoint: Any = details[1] if len(details) > 1 else None
        self.target_unique_id: Any = details[2] if len(details) > 2 else ""
        self.refresh: Callable[[], None] | None = None
        """Set while pages are copied: brings ``checkpoint`` up to date before a keep-alive beat."""

    def restart(self, target_unique_id: str, checkpoint: CopyCheckpoint) -> None:
        self.target_unique_id = target_unique_id
        self.checkpoint = checkpoint

    def send(self, text: str | None = None) -> None:
        if text is not None:
            self.text = text
        activity.heartbeat(self.text, self.checkpoint, self.target_unique_id)

    @contextlib.asynccontextmanager
    async def ticking(self) -> AsyncIterator[CopyBeat]:
        timeout = activity.info().heartbeat_timeout
        every = min(HEARTBEAT_EVERY_S, timeout.total_seconds() / 3) if timeout else HEARTBEAT_EVERY_S

        async def tick() -> None:
            while True:
                if self.refresh is not None:
                    self.refresh()
                self.send()
                await asyncio.sleep(every)

        ticker = asyncio.create_task(tick())
        try:
            yield self
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


# -- SAS grants --------------------------------------------------------------------------------------------------


@dataclass
class DiskSas:
    """One disk's SAS as the copy uses it; ``generation`` counts grants, so concurrent failures renew it once."""

    disk: CopyDiskFacts
    access: str
    """``Read`` (source) or ``Write`` (target)."""
    url: str = ""
    generation: int = 0
    renewed_at_progress: int = -1
    renewals_without_progress: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SasGrants:
    """``beginGetAccess`` / ``endGetAccess`` for one copy, with the SAS windows as evidence."""

    def __init__(self, clients: AzureClients, duration_s: int, vm_name: str) -> None:
        self._clients = clients
        self._duration_s = duration_s
        self.vm = vm_name
        self.windows: list[SasWindow] = []
        self.renewals = 0

    async def grant(self, sas: DiskSas) -> None:
        ref = parse_resource_id(sas.disk.disk_id)
        disks = self._clients.compute(ref.subscription_id).disks
        what = f"VM {self.vm}: granting {sas.access} access to disk {ref.name}"
        try:
            poller = await disks.begin_grant_access(
                ref.resource_group,
                ref.name,
                GrantAccessData(access=sas.access, duration_in_seconds=self._duration_s),
                polling=self._clients.lro_polling(),
            )
            granted = await poller.result()
        except HttpResponseError as exc:
            if exc.status_code == 409 and "running vm" in str(exc.message).lower():
                raise ApplicationError(
                    f"VM {self.vm}: refused by M-7 ({Reason.SOURCE_DISK_IN_USE}): disk {ref.name} is attached to a "
                    "running VM, so ARM grants no read access and a copy could miss writes. Fix: deallocate the source "
                    "VM (under the downtime approval), then copy.",
                    type=Reason.SOURCE_DISK_IN_USE,
                    non_retryable=True,
                ) from exc
            raise classify_arm_error(exc, what) from exc
        url = str(getattr(granted, "access_sas", "") or "")
        if not url:
            raise ApplicationError(f"{what}: ARM returned no accessSAS", type=Reason.ACTIVITY_FAILED)
        sas.url = url
        sas.generation += 1
        self.windows.append(SasWindow(sas.disk.disk_id, sas.access, datetime.now(UTC), self._duration_s))

    async def renew(self, sas: DiskSas, seen_generation: int, progress: int) -> None:
        """Grant again after a 403 seen with ``seen_generation``, unless another call already did."""
        async with sas.lock:
            if sas.generation != seen_generation:
                return
            if progress == sas.renewed_at_progress:
                sas.renewals_without_progress += 1
            else:
                sas.renewed_at_progress, sas.renewals_without_progress = progress, 1
            if sas.renewals_without_progress > MAX_RENEWALS_WITHOUT_PROGRESS:
                raise ApplicationError(
                    f"VM {self.vm}: the {sas.access} SAS of disk {sas.disk.name} stopped working right after each of "
                    f"{MAX_RENEWALS_WITHOUT_PROGRESS} renewals, with no page copied in between (M-3 copy). Fix: check "
                    "the worker's clock and the SAS duration (sas_duration_s), then retry the migration.",
                    type=Reason.SAS_EXPIRED,
                    non_retryable=True,
                )
            log.info("renewing an expired disk SAS", disk=sas.disk.name, access=sas.access)
            await self.grant(sas)
            self.renewals += 1

    async def revoke(self, sas: DiskSas) -> None:
        """``endGetAccess``: every SAS of the disk stops working (an Upload disk's upload ends: ``Unattached``)."""
        ref = parse_resource_id(sas.disk.disk_id)
        disks = self._clients.compute(ref.subscription_id).disks
        try:
            poller = await disks.begin_revoke_access(ref.resource_group, ref.name, polling=self._clients.lro_polling())
            await poller.result()
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"VM {self.vm}: revoking access to disk {ref.name}") from exc
        now = datetime.now(UTC)
        self.windows = [
            replace(w, revoked_at=now) if w.disk_id == sas.disk.disk_id and w.revoked_at is None else w
            for w in self.windows
        ]


# -- page-range listings -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    ranges: list[PageRange]
    digests: list[RangeDigest]
    """The data plane's checksum per listed range, where it gives one (:data:`RANGE_DIGESTS_HEADER`)."""


async def list_ranges(clients: AzureClients, grants: SasGrants, sas: DiskSas, progress: Callable[[], int]) -> Listing:
    """Get Page Ranges over the whole blob, page by page; an expired SAS is renewed and the listing goes on from
    the last range it had."""
    ranges: list[PageRange] = []
    digests: list[RangeDigest] = []

    def collect(response: PipelineResponse[Any, Any]) -> None:
        header = response.http_response.headers.get(RANGE_DIGESTS_HEADER)
        if header:
            digests.extend(parse_range_digests(header))

    while True:
        generation = sas.generation
        start = ranges[-1].end if ranges else 0
        listed = progress() + len(ranges)
        try:
            async with clients.blob(sas.url) as client:
                pages = client.list_page_ranges(
                    offset=start or None, results_per_page=LISTING_PAGE, raw_response_hook=collect
                )
                async for item in pages:
                    if not item.cleared and item.start is not None and item.end is not None:
                        ranges.append(PageRange(item.start, item.end + 1 - item.start))
            return Listing(_merge(ranges), digests)
        except HttpResponseError as exc:
            if blob.target_sas_expired(exc):
                await grants.renew(sas, generation, listed)
                continue
            raise data_plane_error(exc, f"listing the page ranges of disk {sas.disk.name}", grants) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise ApplicationError(
                f"VM {grants.vm}: listing the page ranges of disk {sas.disk.name} (M-3 disk copy): the Blob service "
                f"did not answer ({exc}). The copy resumes from its checkpoint.",
                type=Reason.COPY_STALLED,
                next_retry_delay=timedelta(seconds=BUSY_PAUSE_S),
            ) from None


def _merge(ranges: list[PageRange]) -> list[PageRange]:
    """Ranges from a listing resumed mid-range (after a renewal) joined again where they touch."""
    merged: list[PageRange] = []
    for r in ranges:
        if merged and r.offset <= merged[-1].end:
            last = merged[-1]
            merged[-1] = PageRange(last.offset, max(last.end, r.end) - last.offset)
        else:
            merged.append(r)
    return merged


def data_plane_error(exc: HttpResponseError, what: str, grants: SasGrants) -> ApplicationError:
    """A Blob answer the copy cannot work around, typed with the service's code; 5xx stay retryable."""
    code = blob.error_code(exc) or "BlobServiceError"
    message = f"VM {grants.vm}: {what} (M-3 disk copy): the Blob service answered {blob.one_line(exc)}"
    if blob.transient(exc):
        seconds = blob.blob_retry_after(exc)
        return ApplicationError(
            f"{message}. The copy resumes from its checkpoint.",
            type=code,
            next_retry_delay=None if seconds is None else timedelta(seconds=seconds),
        )
    return ApplicationError(
        f"{message}. Fix: check the disks' access (SAS) and sizes; the copy resumes from its checkpoint on a rerun.",
        type=code,
        non_retryable=True,
    )


# -- the parallel copy -------------------------------------------------------------------------------------------


class PageCopier:
    """Put Page From URL for each chunk (source and target offsets equal), at most ``parallelism`` at a time."""

    def __init__(
        self,
        clients: AzureClients,
        grants: SasGrants,
        source: DiskSas,
        target: DiskSas,
        tracker: CopyTracker,
        chunks: list[PageRange],
        *,
        beat: CopyBeat,
        parallelism: int,
        checkpoint_bytes: int,
        describe: Callable[[int], str],
        stall_s: float = COPY_STALL_S,
    ) -> None:
        self._clients = clients
        self._grants = grants
        self._source = source
        self._target = target
        self._tracker = tracker
        self._chunks = chunks
        self._beat = beat
        self._parallelism = parallelism
        self._every = checkpoint_bytes
        self._describe = describe
        self._stall_s = stall_s
        self._queue: deque[int] = deque(range(len(chunks)))
        self._in_flight = 0
        self._at_checkpoint = tracker.bytes_copied
        self._progress_at = time.monotonic()
        self._clients_by_generation: dict[int, BlobClient] = {}

    @property
    def progress(self) -> int:
        return self._tracker.bytes_copied

    async def run(self) -> None:
        self._beat.refresh = self._refresh
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._parallelism, len(self._chunks))):
                    group.create_task(self._worker())
        except BaseExceptionGroup as failed:
            raise _first(failed) from None
        finally:
            self._beat.refresh = None
            for client in self._clients_by_generation.values():
                with contextlib.suppress(Exception):
                    await client.close()
            self._clients_by_generation.clear()
        self._take_checkpoint()

    def _refresh(self) -> None:
        """The newest checkpoint into the beat: what a keep-alive heartbeat sends (a fresher one loses less)."""
        self._beat.checkpoint = self._tracker.checkpoint()
        self._beat.text = self._describe(self._tracker.bytes_copied)
        self._at_checkpoint = self._tracker.bytes_copied

    def _take_checkpoint(self) -> None:
        self._refresh()
        self._beat.send()

    async def _worker(self) -> None:
        while self._queue:
            index = self._queue.popleft()
            length = self._chunks[index].length
            # Bytes a kill would lose (copied since the checkpoint, or in flight) stay within one checkpoint.
            if self._tracker.bytes_copied - self._at_checkpoint + self._in_flight + length > self._every:
                self._take_checkpoint()
            self._in_flight += length
            try:
                await self._copy(self._chunks[index])
            finally:
                self._in_flight -= length
            self._tracker.record(index)
            self._progress_at = time.monotonic()

    def _target_client(self) -> BlobClient:
        generation = self._target.generation
        client = self._clients_by_generation.get(generation)
        if client is None:
            client = self._clients.blob(self._target.url)
            self._clients_by_generation[generation] = client
        return client

    async def _copy(self, chunk: PageRange) -> None:
        while True:
            self._check_stall(chunk)
            target_generation, source_generation = self._target.generation, self._source.generation
            try:
                await self._target_client().upload_pages_from_url(
                    self._source.url, offset=chunk.offset, length=chunk.length, source_offset=chunk.offset
                )
                return
            except HttpResponseError as exc:
                if blob.target_sas_expired(exc):
                    await self._grants.renew(self._target, target_generation, self.progress)
                elif blob.source_sas_expired(exc):
                    await self._grants.renew(self._source, source_generation, self.progress)
                elif blob.transient(exc):
                    await self._pause(blob.blob_retry_after(exc), chunk)
                else:
                    what = f"copying bytes {chunk.offset}-{chunk.end - 1} of disk {self._source.disk.name} to disk "
                    raise data_plane_error(exc, what + self._target.disk.name, self._grants) from exc
            except (ServiceRequestError, ServiceResponseError):
                await self._pause(None, chunk)

    async def _pause(self, retry_after: float | None, chunk: PageRange) -> None:
        left = self._stall_s - (time.monotonic() - self._progress_at)
        await asyncio.sleep(max(0.0, min(BUSY_PAUSE_S if retry_after is None else retry_after, left)))
        self._check_stall(chunk)

    def _check_stall(self, chunk: PageRange) -> None:
        if time.monotonic() - self._progress_at <= self._stall_s:
            return
        raise ApplicationError(
            f"VM {self._grants.vm}: no page of disk {self._source.disk.name} was copied to disk "
            f"{self._target.disk.name} for {self._stall_s:.0f} s (the Blob service stayed busy or unreachable, "
            f"last at offset {chunk.offset}; M-3 disk copy). The copy resumes from its checkpoint on the next attempt.",
            type=Reason.COPY_STALLED,
            next_retry_delay=timedelta(seconds=BUSY_PAUSE_S),
        )


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to raise for a failed TaskGroup: a typed ApplicationError first, else the first error."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        else:
            leaves.append(item)
    typed = [e for e in leaves if isinstance(e, ApplicationError)]
    return (typed or leaves)[0]
