"""The sparse disk copy (what ``azcopy copy --blob-type PageBlob`` does), as pure arithmetic on page ranges.

Only written ranges are copied (most disks are sparse), in Put Page From URL calls of at most 4 MiB, 512-aligned, in
offset order. Progress is a watermark (every written byte below it is copied) plus the chunks finished past it: the
calls run in parallel and finish out of order, and the checkpoint stays small however sparse the disk. The copy
activity records one every ``checkpoint_bytes`` in its heartbeat details, so a resumed copy re-copies at most one
checkpoint. Verification: every source range covered on the target, and equal checksums where the data plane
gives them (the simulator does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from adeflow.domain.migration.evidence import SasWindow
from adeflow.domain.migration.payloads import MIB
from adeflow.domain.vocabulary import Reason

PAGE: Final = 512
MAX_PUT_PAGE_BYTES: Final = 4 * MIB
"""Put Page From URL writes at most 4 MiB per call."""
VHD_FOOTER: Final = 512


@dataclass(frozen=True)
class PageRange:
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class DiskCopyRequest:
    """One disk's copy, for the copy activity (the SAS URLs are fetched by the activity, never in history)."""

    source_disk_id: str
    target_disk_id: str
    source_size_bytes: int
    sas_duration_s: int
    parallelism: int
    checkpoint_bytes: int
    max_chunk_bytes: int = MAX_PUT_PAGE_BYTES


@dataclass(frozen=True)
class CopyCheckpoint:
    """A copy's progress, as heartbeat details: resumable after a worker dies."""

    copied_below: int = 0
    """Every written source byte below this offset is on the target."""
    done_above: list[PageRange] = field(default_factory=list)
    """Chunks finished past the watermark (parallel calls finish out of order)."""
    bytes_copied: int = 0
    """Bytes sent by Put Page From URL in every attempt so far (re-copies included)."""


@dataclass(frozen=True)
class DiskCopyResult:
    allocated_bytes: int
    """Written on the source (its page ranges): what the sparse copy had to move."""
    copied_bytes: int
    """Sent by Put Page From URL in every attempt (as far as their heartbeats recorded it)."""
    resumed_from_bytes: int = 0
    sas_renewals: int = 0
    """SAS granted again because one expired (or was revoked) mid-copy."""
    sas_windows: list[SasWindow] = field(default_factory=list)
    """Every SAS this attempt opened, and when it was revoked (evidence of who could read or write what)."""
    ranges: int = 0
    """Source page ranges verified on the target."""
    checksums_compared: int = 0
    """Of those, ranges whose checksums were compared (0 where the data plane gives none, as Azure's)."""


def upload_size_bytes(source_size_bytes: int) -> int:
    """``creationData.uploadSizeBytes`` of the new disk: the source's ``diskSizeBytes`` plus the VHD footer."""
    if source_size_bytes <= 0 or source_size_bytes % PAGE:
        raise ValueError(f"a disk size must be a positive multiple of {PAGE} bytes; got {source_size_bytes}")
    return source_size_bytes + VHD_FOOTER


def normalise_ranges(ranges: Iterable[PageRange | tuple[int, int]], limit: int) -> list[PageRange]:
    """Sorted, 512-aligned (widened outwards), clipped to ``[0, limit)``, overlapping and touching ranges merged."""
    spans: list[tuple[int, int]] = []
    for item in ranges:
        offset, length = (item.offset, item.length) if isinstance(item, PageRange) else item
        if length <= 0:
            continue
        start = max(0, offset - offset % PAGE)
        end = min(limit, -(-(offset + length) // PAGE) * PAGE)
        if end > start:
            spans.append((start, end))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [PageRange(start, end - start) for start, end in merged]


def allocated_bytes(ranges: Iterable[PageRange | tuple[int, int]], limit: int) -> int:
    """What a sparse copy has to move: the written bytes of the source."""
    return sum(r.length for r in normalise_ranges(ranges, limit))


def plan_chunks(
    ranges: Iterable[PageRange | tuple[int, int]], limit: int, max_chunk: int = MAX_PUT_PAGE_BYTES
) -> list[PageRange]:
    """Put Page From URL calls for the written ranges: each at most ``max_chunk``, 512-aligned, in offset order."""
    if max_chunk <= 0 or max_chunk % PAGE or max_chunk > MAX_PUT_PAGE_BYTES:
        raise ValueError(f"a chunk must be a multiple of {PAGE} bytes up to {MAX_PUT_PAGE_BYTES}; got {max_chunk}")
    chunks: list[PageRange] = []
    for span in normalise_ranges(ranges, limit):
        chunks += [PageRange(o, min(max_chunk, span.end - o)) for o in range(span.offset, span.end, max_chunk)]
    return chunks


def subtract(ranges: list[PageRange], covered: list[PageRange]) -> list[PageRange]:
    """The parts of sorted, disjoint ``ranges`` outside sorted, disjoint ``covered``, in order."""
    left: list[PageRange] = []
    i = 0
    for r in ranges:
        start = r.offset
        while i < len(covered) and covered[i].end <= start:
            i += 1
        j = i
        while j < len(covered) and covered[j].offset < r.end:
            if covered[j].offset > start:
                left.append(PageRange(start, covered[j].offset - start))
            start = max(start, covered[j].end)
            j += 1
        if start < r.end:
            left.append(PageRange(start, r.end - start))
    return left


def _covered(checkpoint: CopyCheckpoint, limit: int) -> list[PageRange]:
    below = [PageRange(0, checkpoint.copied_below)] if checkpoint.copied_below > 0 else []
    return normalise_ranges([*below, *checkpoint.done_above], limit)


def remaining_chunks(chunks: list[PageRange], checkpoint: CopyCheckpoint | None, limit: int) -> list[PageRange]:
    """The planned calls a resumed copy still makes (parts of a chunk done by an earlier attempt are left out)."""
    if checkpoint is None:
        return list(chunks)
    return subtract(chunks, _covered(checkpoint, limit))


def done_bytes(chunks: list[PageRange], checkpoint: CopyCheckpoint | None, limit: int) -> int:
    """Planned bytes a checkpoint already covers: where a resumed copy starts from."""
    planned = sum(c.length for c in chunks)
    return planned - sum(c.length for c in remaining_chunks(chunks, checkpoint, limit))


class CopyTracker:
    """Inside the copy activity: finished calls in any order in, a checkpoint every ``checkpoint_bytes`` out.

    ``chunks`` are the calls this attempt makes (``remaining_chunks``), sorted; ``start`` the checkpoint it resumed
    from. Not a payload: the activity keeps it in memory and heartbeats :meth:`checkpoint`.
    """

    def __init__(
        self, chunks: list[PageRange], limit: int, checkpoint_bytes: int, start: CopyCheckpoint | None = None
    ) -> None:
        if checkpoint_bytes <= 0:
            raise ValueError("checkpoint_bytes must be positive")
        self._chunks = chunks
        self._limit = limit
        self._every = checkpoint_bytes
        self._done = [False] * len(chunks)
        self._next = 0
        self._last_done = -1
        self._start = start or CopyCheckpoint()
        self._bytes = self._start.bytes_copied
        self._since = 0

    def record(self, index: int) -> None:
        """Chunk ``index`` (of this attempt's chunks) is on the target."""
        if self._done[index]:
            return
        self._done[index] = True
        self._last_done = max(self._last_done, index)
        self._bytes += self._chunks[index].length
        self._since += self._chunks[index].length
        while self._next < len(self._chunks) and self._done[self._next]:
            self._next += 1

    @property
    def finished(self) -> bool:
        return self._next == len(self._chunks)

    @property
    def bytes_copied(self) -> int:
        return self._bytes

    def due(self) -> bool:
        """A checkpoint's worth of bytes was copied since the last one was taken."""
        return self._since >= self._every

    def checkpoint(self) -> CopyCheckpoint:
        """The progress to heartbeat now (taking it restarts the count towards the next one)."""
        self._since = 0
        if self.finished:
            return CopyCheckpoint(self._limit, [], self._bytes)
        mark = max(self._chunks[self._next].offset, self._start.copied_below)
        # Only chunks between the first not done and the last done can be done past the watermark: a checkpoint costs
        # the calls in flight, not the whole disk (a 4 TiB disk has a million chunks and thousands of checkpoints).
        window = range(self._next, self._last_done + 1)
        above = [self._chunks[i] for i in window if self._done[i] and self._chunks[i].offset >= mark]
        above += [r for r in self._start.done_above if r.offset >= mark]
        return CopyCheckpoint(mark, normalise_ranges(above, self._limit), self._bytes)


def ideal_copy_seconds(allocated_per_disk: list[int], bytes_per_second: float, concurrent_disks: int = 0) -> float:
    """The shortest possible copy under a per-disk throughput limit: disks copy in parallel, each at most at
    ``bytes_per_second``; with ``concurrent_disks`` (> 0) lanes the total also bounds it. A lower bound, so the
    benchmark's wall / ideal ratio is honest."""
    if bytes_per_second <= 0:
        raise ValueError("bytes_per_second must be positive")
    if not allocated_per_disk:
        return 0.0
    longest = max(allocated_per_disk) / bytes_per_second
    if concurrent_disks <= 0 or concurrent_disks >= len(allocated_per_disk):
        return longest
    return max(longest, sum(allocated_per_disk) / (bytes_per_second * concurrent_disks))


# -- verification ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeDigest:
    """A range and the data plane's checksum of it (empty: none given, e.g. Azure's own page blobs)."""

    offset: int
    length: int
    digest: str = ""


@dataclass(frozen=True)
class CopyVerdict:
    ok: bool
    message: str
    reason: str = ""
    missing: list[PageRange] = field(default_factory=list)
    mismatched: list[PageRange] = field(default_factory=list)
    unchecked: int = 0
    """Source ranges without a checksum: covered, but their content not compared."""


def verify_copy(
    source_size_bytes: int,
    target_size_bytes: int,
    source_ranges: list[RangeDigest],
    target_ranges: list[PageRange],
    target_digests: list[RangeDigest],
) -> CopyVerdict:
    """Sizes agree (the target may report the VHD footer), every written source range is written on the target,
    and each source range's checksum equals the target's for the same offsets (``target_digests`` are read for the
    source's ranges)."""
    if target_size_bytes not in (source_size_bytes, source_size_bytes + VHD_FOOTER):
        return CopyVerdict(
            False,
            f"target size {target_size_bytes} bytes does not match the source's {source_size_bytes}.",
            Reason.COPY_SIZE_MISMATCH,
        )
    limit = source_size_bytes + VHD_FOOTER
    wanted = normalise_ranges([(r.offset, r.length) for r in source_ranges], limit)
    missing = subtract(wanted, normalise_ranges(target_ranges, limit))
    if missing:
        lost = sum(r.length for r in missing)
        return CopyVerdict(
            False,
            f"{len(missing)} source range(s), {lost} bytes, are not on the target "
            f"(first at offset {missing[0].offset}).",
            Reason.COPY_INCOMPLETE,
            missing=missing,
        )
    theirs = {(d.offset, d.length): d.digest for d in target_digests}
    mismatched = [
        PageRange(r.offset, r.length)
        for r in source_ranges
        if r.digest and theirs.get((r.offset, r.length), "") != r.digest
    ]
    unchecked = sum(1 for r in source_ranges if not r.digest)
    if mismatched:
        return CopyVerdict(
            False,
            f"{len(mismatched)} range(s) differ from the source (first at offset {mismatched[0].offset}).",
            Reason.COPY_CHECKSUM_MISMATCH,
            mismatched=mismatched,
            unchecked=unchecked,
        )
    compared = len(source_ranges) - unchecked
    return CopyVerdict(
        True,
        f"every written range copied ({len(wanted)} range(s)); {compared} checksum(s) equal, {unchecked} not compared.",
        unchecked=unchecked,
    )
