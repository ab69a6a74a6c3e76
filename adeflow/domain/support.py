"""The R-PRE-1 support matrix (``adeflow/domain/data/ade_support.json``): images, sizes and memory.

Loaded once at import; lookups are pure, so workflows may call them through ``adeflow.domain.rules``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from adeflow.domain.model import ImageRef


@dataclass(frozen=True)
class ImageSupport:
    label: str
    os_volume: bool
    """False: the image supports data-volume encryption only."""


@dataclass(frozen=True)
class SizeProblem:
    rule: str
    why: str


@dataclass(frozen=True)
class _ImageRow:
    publisher: str
    offer: re.Pattern[str]
    sku: re.Pattern[str]
    support: ImageSupport


@dataclass(frozen=True)
class SupportMatrix:
    images: tuple[_ImageRow, ...]
    unsupported_sizes: tuple[tuple[re.Pattern[str], SizeProblem], ...]
    memory_per_vcpu: tuple[tuple[re.Pattern[str], float], ...]
    memory_exact: dict[str, float]
    os_volume_min_memory_gib: float
    data_volume_min_memory_gib: float

    def image(self, image: ImageRef) -> ImageSupport | None:
        for row in self.images:
            if (
                row.publisher.lower() == image.publisher.lower()
                and row.offer.fullmatch(image.offer)
                and row.sku.fullmatch(image.sku)
            ):
                return row.support
        return None

    def size_problem(self, size: str) -> SizeProblem | None:
        for pattern, problem in self.unsupported_sizes:
            if pattern.fullmatch(size):
                return problem
        return None

    def memory_gib(self, size: str) -> float | None:
        exact = {k.lower(): v for k, v in self.memory_exact.items()}.get(size.lower())
        if exact is not None:
            return exact
        vcpus = re.match(r"Standard_[A-Z]+(\d+)", size, re.IGNORECASE)
        for pattern, per_vcpu in self.memory_per_vcpu:
            if pattern.fullmatch(size) and vcpus:
                return per_vcpu * int(vcpus.group(1))
        return None


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _build(raw: dict[str, Any]) -> SupportMatrix:
    return SupportMatrix(
        images=tuple(
            _ImageRow(
                row["publisher"],
                _compile(row["offer"]),
                _compile(row["sku"]),
                ImageSupport(row["label"], bool(row["os"])),
            )
            for row in raw["images"]
        ),
        unsupported_sizes=tuple(
            (_compile(row["pattern"]), SizeProblem(row["rule"], row["why"])) for row in raw["unsupported_sizes"]
        ),
        memory_per_vcpu=tuple((_compile(row["pattern"]), float(row["gib"])) for row in raw["memory_per_vcpu"]),
        memory_exact={str(k): float(v) for k, v in raw["memory_exact"].items()},
        os_volume_min_memory_gib=float(raw["os_volume_min_memory_gib"]),
        data_volume_min_memory_gib=float(raw["data_volume_min_memory_gib"]),
    )


@cache
def support_matrix() -> SupportMatrix:
    text = resources.files("adeflow.domain").joinpath("data/ade_support.json").read_text(encoding="utf-8")
    return _build(json.loads(text))


MATRIX = support_matrix()
