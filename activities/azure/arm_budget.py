"""Client-side ARM request budget (docs/original-design.md §5 invariant 8, docs/arm-reference.md §e).

ARM throttles per subscription (and region) with token buckets: reads 250 refill 25/s, writes and deletes
200 refill 10/s; Compute adds an "Update VM" bucket per VM (extension create/update/delete, restart: 12,
refill 4 per minute). A fleet that fires requests as fast as it can bounces off those buckets: every 429 is
a wasted round trip, a ``Retry-After`` sleep in the SDK, and budget taken from every other tool on the
subscription. So each worker keeps its *own* buckets, set safely below ARM's, and a request waits here for a
token instead of being sent to be refused.

The buckets also adapt to what ARM reports: a low ``x-ms-ratelimit-remaining-subscription-<kind>`` (other
clients are spending the same budget) drains the local bucket to match, and a 429 pauses that subscription
and kind for its ``Retry-After``, so the requests queued behind it do not run into the same wall.

:class:`ArmBudgetPolicy` is an azure-core per-retry policy: azure-core inserts ``per_retry_policies`` right
after the ``AsyncRetryPolicy`` (``AsyncPipelineClient._build_pipeline``, also when the SDK passes an explicit
policy list), so every attempt, including the SDK's own retries of a 429 and LRO status polls, spends a token.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlparse

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.rest import AsyncHttpResponse, HttpRequest

from activities.azure.arm_retry import call_deadline
from adeflow.inputs.settings import AzureSettings

log = logging.getLogger(__name__)

Kind = Literal["reads", "writes", "deletes"]
KINDS: tuple[Kind, ...] = ("reads", "writes", "deletes")
DEFAULT_PAUSE_S = 1.0
"""Pause after a 429 that names no ``Retry-After`` (ARM always sends one; other services may not)."""

_SUBSCRIPTION = re.compile(r"^/subscriptions/(?P<sub>[^/]+)", re.IGNORECASE)
_UPDATE_VM = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute"
    r"/virtualmachines/(?P<vm>[^/]+)/(?:extensions/[^/]+|restart)/?$",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class BucketLimit:
    """Capacity (burst) and refill in tokens per second; a refill of 0 means unlimited (no bucket)."""

    capacity: float
    per_second: float

    def __post_init__(self) -> None:
        if self.per_second < 0 or self.capacity < 0:
            raise ValueError(f"bucket limits must not be negative: {self}")
        if self.per_second > 0 and self.capacity < 1:
            raise ValueError(f"a limited bucket needs a capacity of at least 1: {self}")

    @property
    def unlimited(self) -> bool:
        return self.per_second == 0


@dataclass(frozen=True)
class BudgetLimits:
    """What one worker may spend, per subscription.

    The defaults are ARM's documented budgets minus headroom for the portal, pipelines and other tools on the
    same subscription. ``share`` scales the ARM buckets when several workers share a subscription (e.g. 0.25
    each for four workers); it does not scale the per-VM bucket, because one VM is driven by one workflow.
    """

    reads: BucketLimit = BucketLimit(200, 20)
    writes: BucketLimit = BucketLimit(150, 8)
    deletes: BucketLimit = BucketLimit(150, 8)
    vm_updates: BucketLimit = BucketLimit(12, 4 / 60)
    share: float = 1.0
    low_water: float = 0.1
    """Below this fraction of the (unshared) capacity, ARM's remaining count caps the local bucket."""

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"share must be in (0, 1], got {self.share}")
        if not 0 <= self.low_water <= 1:
            raise ValueError(f"low_water must be in [0, 1], got {self.low_water}")

    @classmethod
    def from_settings(cls, settings: AzureSettings) -> BudgetLimits:
        return cls(
            reads=BucketLimit(settings.arm_reads_capacity, settings.arm_reads_per_s),
            writes=BucketLimit(settings.arm_writes_capacity, settings.arm_writes_per_s),
            deletes=BucketLimit(settings.arm_deletes_capacity, settings.arm_deletes_per_s),
            vm_updates=BucketLimit(settings.arm_vm_updates_capacity, settings.arm_vm_updates_per_min / 60),
            share=settings.arm_budget_share,
        )

    @classmethod
    def unlimited(cls) -> BudgetLimits:
        """No waiting and no adaptation: the policy only counts (the behaviour without a budget)."""
        none = BucketLimit(0, 0)
        return cls(reads=none, writes=none, deletes=none, vm_updates=none)

    def arm(self, kind: Kind) -> BucketLimit:
        limit: BucketLimit = getattr(self, kind)
        if limit.unlimited or self.share == 1:
            return limit
        return BucketLimit(max(1.0, limit.capacity * self.share), limit.per_second * self.share)


# ---------------------------------------------------------------------------------------------- bucket math


@dataclass
class TokenBucket:
    """A token bucket that hands out tokens on credit, so waiters are served first come, first served.

    ``tokens`` is the level at time ``updated``; a negative level is the queue of reservations not yet due.
    ``updated`` lies in the future while the bucket is paused. ``shift`` accumulates the seconds pauses pushed
    the queue back, so a reservation made before a pause moves back by the same amount. Pure: every method
    takes ``now``.
    """

    capacity: float
    rate: float
    tokens: float
    updated: float
    shift: float = 0.0

    @classmethod
    def full(cls, limit: BucketLimit, now: float) -> TokenBucket:
        return cls(limit.capacity, limit.per_second, limit.capacity, now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def reserve(self, now: float) -> float:
        """Take one token, on credit if need be; returns when it may be used (``now`` if at once)."""
        self._refill(now)
        self.tokens -= 1.0
        due = self.updated + max(0.0, -self.tokens) / self.rate
        return max(now, due)

    def pause(self, now: float, seconds: float) -> None:
        """Nothing more before ``now + seconds`` (a 429's Retry-After); queued reservations move back too."""
        self._refill(now)
        added = max(0.0, now + seconds - self.updated)
        self.tokens = min(self.tokens, 0.0)
        self.updated += added
        self.shift += added

    def drain(self, now: float, remaining: float) -> None:
        """Never believe in more tokens than ARM says are left."""
        self._refill(now)
        self.tokens = min(self.tokens, remaining)

    def level(self, now: float) -> float:
        self._refill(now)
        return self.tokens


# ---------------------------------------------------------------------------------------------- classification


@dataclass(frozen=True)
class ArmTarget:
    """Which budgets one ARM request spends."""

    subscription: str
    kind: Kind
    vm: str | None = None
    """``<sub>/<rg>/<vm>`` (lower case) when the request also spends the Compute "Update VM" budget."""


def kind_of(method: str) -> Kind:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


def classify(method: str, url: str) -> ArmTarget | None:
    """The budgets of a request, or None when it is not subscription-scoped (tenant-level calls)."""
    path = urlparse(url).path
    match = _SUBSCRIPTION.match(path)
    if match is None:
        return None
    kind = kind_of(method)
    vm = None
    if kind != "reads":
        update = _UPDATE_VM.match(path)
        if update is not None:
            vm = f"{update['sub']}/{update['rg']}/{update['vm']}".lower()
    return ArmTarget(match["sub"].lower(), kind, vm)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` (seconds or HTTP date) or the ``retry-after-ms`` variants, in seconds."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after", 1.0), ("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001)):
        value = lowered.get(name)
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, (when - datetime.now(when.tzinfo or UTC)).total_seconds())
    return None


# ---------------------------------------------------------------------------------------------- budget


@dataclass(frozen=True)
class SubscriptionCounters:
    requests: int = 0
    waited: int = 0
    """Requests that had to wait for a token."""
    wait_seconds: float = 0.0
    throttled: int = 0
    """429 responses seen."""


@dataclass(frozen=True)
class BudgetSnapshot:
    """Counters for logs and metrics: totals and per subscription."""

    requests: int
    waited: int
    wait_seconds: float
    throttled: int
    subscriptions: Mapping[str, SubscriptionCounters]


@dataclass
class _Counters:
    requests: int = 0
    waited: int = 0
    wait_seconds: float = 0.0
    throttled: int = 0


@dataclass
class ArmBudget:
    """The buckets of one worker process, shared by all its SDK clients.

    Asyncio-safe: a token is reserved synchronously (no await between reading and updating a bucket), then the
    caller sleeps until its reservation is due; the lock only guards against clients on other threads' loops.
    """

    limits: BudgetLimits = field(default_factory=BudgetLimits)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _buckets: dict[tuple[str, ...], TokenBucket] = field(default_factory=dict, repr=False)
    _counters: dict[str, _Counters] = field(default_factory=dict, repr=False)

    def _bucket(self, key: tuple[str, ...], limit: BucketLimit, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(limit, now)
        return bucket

    def _limited(self, target: ArmTarget) -> list[tuple[tuple[str, ...], BucketLimit]]:
        """Buckets in the order they are waited for: the slow per-VM one first, so the ARM token is fresh."""
        found: list[tuple[tuple[str, ...], BucketLimit]] = []
        if target.vm is not None and not self.limits.vm_updates.unlimited:
            found.append((("vm", target.vm), self.limits.vm_updates))
        arm = self.limits.arm(target.kind)
        if not arm.unlimited:
            found.append((("arm", target.subscription, target.kind), arm))
        return found

    async def acquire(self, target: ArmTarget, max_wait: float | None = None) -> float:
        """Wait until ``target`` may be sent, or ``max_wait`` seconds at most; returns the seconds waited.

        ``max_wait`` is what is left of the SDK call's time (``activities/arm_retry.py``): a request queued behind
        a long ``Retry-After`` pause is sent when it is up rather than kept until its activity times out, so the
        activity fails with ARM's 429, typed, and Temporal retries after ARM's ``Retry-After``.
        """
        started = self.clock()
        give_up = started + max_wait if max_wait is not None else math.inf
        slept = False
        for key, limit in self._limited(target):
            with self._lock:
                bucket = self._bucket(key, limit, self.clock())
                due, shift = bucket.reserve(self.clock()), bucket.shift
            while True:
                with self._lock:
                    now = self.clock()
                    wait = min(due + (bucket.shift - shift), give_up) - now
                if wait <= 0:
                    break
                slept = True
                await self.sleep(wait)
        waited = self.clock() - started if slept else 0.0
        with self._lock:
            counters = self._counters.setdefault(target.subscription, _Counters())
            counters.requests += 1
            if slept:
                counters.waited += 1
                counters.wait_seconds += waited
        return waited

    def observe(self, target: ArmTarget, status: int, headers: Mapping[str, str]) -> None:
        """Adapt to ARM's answer: a 429 pauses the budget it hit, a low remaining count drains the bucket."""
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            now = self.clock()
            if status == 429:
                self._counters.setdefault(target.subscription, _Counters()).throttled += 1
                pause = retry_after_seconds(headers)
                pause = DEFAULT_PAUSE_S if pause is None else pause
                for key, limit in self._throttled_buckets(target, lowered):
                    self._bucket(key, limit, now).pause(now, pause)
                log.info("ARM 429 for %s %s: pausing %.1f s", target.subscription, target.kind, pause)
                return
            arm = self.limits.arm(target.kind)
            remaining = _as_number(lowered.get(f"x-ms-ratelimit-remaining-subscription-{target.kind}"))
            if arm.unlimited or remaining is None:
                return
            subscription_capacity: float = getattr(self.limits, target.kind).capacity
            if remaining < self.limits.low_water * subscription_capacity:
                key = ("arm", target.subscription, target.kind)
                self._bucket(key, arm, now).drain(now, remaining * self.limits.share)

    def _throttled_buckets(
        self, target: ArmTarget, headers: Mapping[str, str]
    ) -> list[tuple[tuple[str, ...], BucketLimit]]:
        """The per-VM bucket when Compute's "Update VM" policy refused (its remaining count is 0), else ARM's."""
        limited = self._limited(target)
        resource = headers.get("x-ms-ratelimit-remaining-resource", "")
        if target.vm is not None and re.search(r"UpdateVM[^;,]*;0\b", resource):
            return [entry for entry in limited if entry[0][0] == "vm"]
        return [entry for entry in limited if entry[0][0] == "arm"]

    def snapshot(self) -> BudgetSnapshot:
        with self._lock:
            subs = {
                sub: SubscriptionCounters(c.requests, c.waited, c.wait_seconds, c.throttled)
                for sub, c in self._counters.items()
            }
        return BudgetSnapshot(
            requests=sum(c.requests for c in subs.values()),
            waited=sum(c.waited for c in subs.values()),
            wait_seconds=sum(c.wait_seconds for c in subs.values()),
            throttled=sum(c.throttled for c in subs.values()),
            subscriptions=subs,
        )


def _as_number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------------------------- policy


class ArmBudgetPolicy(AsyncHTTPPolicy[HttpRequest, AsyncHttpResponse]):
    """Spends the :class:`ArmBudget` for every attempt of an ARM request; one instance per client pipeline
    (azure-core chains policies through ``self.next``), all sharing the same budget."""

    def __init__(self, budget: ArmBudget) -> None:
        super().__init__()
        self.budget = budget

    async def send(self, request: PipelineRequest[HttpRequest]) -> PipelineResponse[HttpRequest, AsyncHttpResponse]:
        target = classify(request.http_request.method, request.http_request.url)
        if target is None:
            return await self.next.send(request)
        deadline = call_deadline(request.context)
        await self.budget.acquire(target, None if deadline is None else deadline - time.monotonic())
        response = await self.next.send(request)
        http = response.http_response
        self.budget.observe(target, http.status_code, http.headers)
        return response
