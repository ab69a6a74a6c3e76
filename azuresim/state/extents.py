"""A disk's data as sparse, checksummed extents: what was written where, never the bytes themselves.

A disk of 1 TiB must cost a few objects, not a terabyte. Each :class:`Extent` says "bytes ``start..end`` of this
disk are bytes ``origin..`` of the content stream ``content``" (``content`` empty: zeros). A stream is any named,
deterministic byte sequence: a fleet disk's original data, a VHD footer, the body of one Put Page. Copying a range
moves the references, so a copied extent carries its source's content and checksum, and two ranges hold equal
bytes exactly when their normalised extents are equal (:meth:`ExtentMap.fingerprint`). That is how
``verify_copy`` checks a disk copy range by range (docs/ade-migration.md, the disk copy, step 5).

Offsets and lengths are bytes; the page blob's 512-byte alignment is checked by the data plane, not here.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

ZEROS = ""
"""The content of pages written with zeros (e.g. copied from unwritten pages of a source): they count as written
pages for Get Page Ranges, but hold the same bytes as pages never written."""


@dataclass(frozen=True)
class Extent:
    """Bytes ``[start, end)`` of a disk are bytes ``[origin, origin + length)`` of the stream ``content``."""

    start: int
    end: int
    content: str
    origin: int = 0

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def checksum(self) -> str:
        """The checksum of the extent's bytes: equal for equal content, wherever the extent lies."""
        return _digest(f"{self.content}:{self.origin if self.content else 0}:{self.length}")

    def clip(self, lo: int, hi: int) -> Extent:
        """The part of the extent inside ``[lo, hi)`` (which must overlap it)."""
        start, end = max(self.start, lo), min(self.end, hi)
        return Extent(start, end, self.content, self.origin + (start - self.start) if self.content else 0)

    def moved(self, start: int) -> Extent:
        """The same bytes placed at ``start``."""
        return replace(self, start=start, end=start + self.length)

    def continues(self, before: Extent) -> bool:
        """Whether this extent is the next bytes of ``before``'s stream, right after it on the disk."""
        if before.end != self.start or before.content != self.content:
            return False
        return not self.content or before.origin + before.length == self.origin


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ExtentMap:
    """Non-overlapping extents in disk order; contiguous runs of one stream are merged."""

    def __init__(self, extents: Iterable[Extent] = ()) -> None:
        self._extents: list[Extent] = []
        self._starts: list[int] = []
        for extent in sorted(extents, key=lambda e: e.start):
            self.write(extent.start, extent.end, [extent])

    def __iter__(self) -> Iterator[Extent]:
        return iter(list(self._extents))

    def __len__(self) -> int:
        return len(self._extents)

    def copy(self) -> ExtentMap:
        clone = ExtentMap()
        clone._extents = list(self._extents)
        clone._starts = list(self._starts)
        return clone

    @property
    def written_bytes(self) -> int:
        return sum(e.length for e in self._extents)

    def _first_overlapping(self, lo: int) -> int:
        i = bisect.bisect_right(self._starts, lo) - 1
        if i >= 0 and self._extents[i].end > lo:
            return i
        return i + 1

    def slice(self, lo: int, hi: int) -> list[Extent]:
        """The extents inside ``[lo, hi)``, clipped to it (gaps are unwritten)."""
        found: list[Extent] = []
        i = self._first_overlapping(lo)
        while i < len(self._extents) and self._extents[i].start < hi:
            found.append(self._extents[i].clip(lo, hi))
            i += 1
        return found

    def write(self, lo: int, hi: int, pieces: list[Extent]) -> None:
        """Replace ``[lo, hi)`` by ``pieces`` (inside it, in order); parts not covered by a piece become zeros."""
        filled: list[Extent] = []
        at = lo
        for piece in pieces:
            if piece.start > at:
                filled.append(Extent(at, piece.start, ZEROS))
            filled.append(piece)
            at = piece.end
        if at < hi:
            filled.append(Extent(at, hi, ZEROS))
        self._replace(lo, hi, filled)

    def clear(self, lo: int, hi: int) -> None:
        """Clear Pages: ``[lo, hi)`` becomes unwritten."""
        self._replace(lo, hi, [])

    def copy_from(self, source: ExtentMap, source_lo: int, lo: int, length: int) -> None:
        """Put Page From URL: ``[lo, lo + length)`` gets the bytes of ``source[source_lo, source_lo + length)``."""
        shift = lo - source_lo
        pieces = [e.moved(e.start + shift) for e in source.slice(source_lo, source_lo + length)]
        self.write(lo, lo + length, pieces)

    def _replace(self, lo: int, hi: int, pieces: list[Extent]) -> None:
        i = self._first_overlapping(lo)
        j = i
        keep: list[Extent] = []
        while j < len(self._extents) and self._extents[j].start < hi:
            old = self._extents[j]
            if old.start < lo:
                keep.append(old.clip(old.start, lo))
            j += 1
        tail: list[Extent] = []
        if j > i and self._extents[j - 1].end > hi:
            last = self._extents[j - 1]
            tail.append(last.clip(hi, last.end))
        merged = _merge([*self._extents[max(i - 1, 0) : i], *keep, *pieces, *tail, *self._extents[j : j + 1]])
        first = max(i - 1, 0)
        self._extents[first : j + 1] = merged
        self._starts[first : j + 1] = [e.start for e in merged]

    def ranges(self, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
        """Written ranges ``(start, end)`` (end exclusive) inside ``[lo, hi)``, adjacent ones merged, as Get Page
        Ranges lists them."""
        upper = hi if hi is not None else (self._extents[-1].end if self._extents else 0)
        found: list[tuple[int, int]] = []
        for e in self.slice(lo, upper):
            if found and found[-1][1] == e.start:
                found[-1] = (found[-1][0], e.end)
            else:
                found.append((e.start, e.end))
        return found

    def fingerprint(self, lo: int, hi: int) -> str:
        """A checksum of the bytes in ``[lo, hi)``: equal for two ranges (of any disks) holding the same bytes."""
        parts = [
            f"{e.start - lo}+{e.length}={e.content}@{e.origin}"
            for e in _merge([e for e in self.slice(lo, hi) if e.content])
        ]
        return _digest(f"{hi - lo}|" + ";".join(parts))


def _merge(extents: list[Extent]) -> list[Extent]:
    merged: list[Extent] = []
    for e in extents:
        if e.length <= 0:
            continue
        if merged and e.continues(merged[-1]):
            last = merged[-1]
            merged[-1] = Extent(last.start, e.end, last.content, last.origin)
        else:
            merged.append(e)
    return merged
