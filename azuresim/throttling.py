"""ARM and Compute throttling as token buckets (docs/arm-reference.md §e).

ARM keeps one bucket per subscription and operation class (reads = GET, writes = PUT/PATCH/POST,
deletes = DELETE); Compute adds its "Update VM" policy (extension create/update/delete, restart) per VM and
per subscription. Buckets refill in *real* time (``time.monotonic``): the budgets are Azure's real rates,
unrelated to how fast the simulated clock runs.

:class:`TokenBucket` is pure (every call takes ``now``); :class:`Throttler` owns the buckets and the
clock and says, for one request, which headers to send or that the answer is a 429.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["reads", "writes", "deletes"]
UPDATE_VM_POLICY = "UpdateVM"
UPDATE_VM_SUBSCRIPTION_POLICY = "UpdateVMSubscription"


class BucketSpec(BaseModel):
    """Capacity and refill rate; exactly one of ``refill_per_s`` / ``refill_per_min`` is meaningful."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity: float = Field(gt=0)
    refill_per_s: float | None = Field(default=None, ge=0)
    refill_per_min: float | None = Field(default=None, ge=0)

    @property
    def rate(self) -> float:
        """Tokens per real second."""
        if self.refill_per_s is not None:
            return self.refill_per_s
        if self.refill_per_min is not None:
            return self.refill_per_min / 60.0
        return 0.0


class ThrottlingSpec(BaseModel):
    """``sim.throttling`` in the fleet file; the defaults are the documented public-cloud values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    reads: BucketSpec = BucketSpec(capacity=250, refill_per_s=25)
    writes: BucketSpec = BucketSpec(capacity=200, refill_per_s=10)
    deletes: BucketSpec = BucketSpec(capacity=200, refill_per_s=10)
    vm_updates: BucketSpec = BucketSpec(capacity=12, refill_per_min=4)
    vm_updates_subscription: BucketSpec = BucketSpec(capacity=1500, refill_per_min=500)


@dataclass
class TokenBucket:
    """A classic token bucket; starts full."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, spec: BucketSpec, now: float) -> TokenBucket:
        return cls(spec.capacity, spec.rate, spec.capacity, now)

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = max(self.updated, now)

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def remaining(self, now: float) -> int:
        self.refill(now)
        return math.floor(self.tokens)

    def seconds_until_token(self, now: float) -> float:
        self.refill(now)
        if self.tokens >= 1.0:
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (1.0 - self.tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """``Retry-After``: whole seconds until a token is available, at least 1."""
    if math.isinf(wait):
        return 3600
    return max(1, math.ceil(wait - 1e-9))


def kind_of(method: str) -> Kind:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass(frozen=True)
class Decision:
    """Headers to add to the response, and the 429 to send instead when ``throttled``."""

    headers: dict[str, str]
    throttled: bool = False
    retry_after: int = 0
    body: dict[str, Any] | None = None


@dataclass
class Throttler:
    spec: ThrottlingSpec = field(default_factory=ThrottlingSpec)
    monotonic: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _buckets: dict[tuple[str, ...], TokenBucket] = field(default_factory=dict, repr=False)

    def configure(self, spec: ThrottlingSpec) -> None:
        """Replace the budgets; every bucket starts full again."""
        with self._lock:
            self.spec = spec
            self._buckets.clear()

    def _bucket(self, key: tuple[str, ...], spec: BucketSpec, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(spec, now)
        return bucket

    def check(self, subscription: str | None, method: str, *, vm: str | None = None) -> Decision:
        """Spend the tokens for one request. ``vm`` is set for Compute "Update VM" operations."""
        if subscription is None or not self.spec.enabled:
            return Decision({})
        sub = subscription.lower()
        kind = kind_of(method)
        with self._lock:
            now = self.monotonic()
            spec = self.spec
            arm = self._bucket(("arm", sub, kind), getattr(spec, kind), now)
            header = f"x-ms-ratelimit-remaining-subscription-{kind}"
            if not arm.take(now):
                wait = retry_after_seconds(arm.seconds_until_token(now))
                return Decision({header: "0"}, True, wait, _arm_body(sub, kind, wait))
            headers = {header: str(arm.remaining(now))}
            if vm is None:
                return Decision(headers)
            per_vm = self._bucket(("vm", sub, vm.lower()), spec.vm_updates, now)
            per_sub = self._bucket(("vmsub", sub), spec.vm_updates_subscription, now)
            for policy, bucket in ((UPDATE_VM_POLICY, per_vm), (UPDATE_VM_SUBSCRIPTION_POLICY, per_sub)):
                if bucket.seconds_until_token(now) > 0:
                    wait = retry_after_seconds(bucket.seconds_until_token(now))
                    headers["x-ms-ratelimit-remaining-resource"] = _resource_header(per_vm, per_sub, now)
                    return Decision(headers, True, wait, _compute_body(policy, bucket, wait))
            per_vm.take(now)
            per_sub.take(now)
            headers["x-ms-ratelimit-remaining-resource"] = _resource_header(per_vm, per_sub, now)
            return Decision(headers)


def _resource_header(per_vm: TokenBucket, per_sub: TokenBucket, now: float) -> str:
    return (
        f"Microsoft.Compute/{UPDATE_VM_POLICY};{per_vm.remaining(now)},"
        f"Microsoft.Compute/{UPDATE_VM_SUBSCRIPTION_POLICY};{per_sub.remaining(now)}"
    )


def _arm_body(sub: str, kind: Kind, wait: int) -> dict[str, Any]:
    noun = {"reads": "read", "writes": "write", "deletes": "delete"}[kind]
    return {
        "error": {
            "code": "SubscriptionRequestsThrottled",
            "message": (
                f"Number of '{noun}' requests for subscription '{sub}' exceeded. Please try again after "
                f"'{wait}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling"
            ),
        }
    }


def _compute_body(policy: str, bucket: TokenBucket, wait: int) -> dict[str, Any]:
    detail = {
        "operationGroup": policy,
        "allowedRequestCount": int(bucket.capacity),
        "measuredRequestCount": int(bucket.capacity) + 1,
        "retryAfterSeconds": wait,
    }
    return {
        "error": {
            "code": "OperationNotAllowed",
            "message": "The server rejected the request because too many requests have been received for this "
            "subscription.",
            "details": [{"code": "TooManyRequests", "target": policy, "message": json.dumps(detail)}],
        }
    }
