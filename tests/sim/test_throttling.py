"""Throttling: pure bucket math, then 429 + Retry-After + rate-limit headers through the real SDK."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient

from activities.azure.credentials import StaticTokenCredential
from azuresim.clock import SimClock
from azuresim.fleet import FleetSpec
from azuresim.server import SimServer
from azuresim.throttling import BucketSpec, Throttler, ThrottlingSpec, TokenBucket, retry_after_seconds
from tests.support.frozen_sim import FLEET, FROZEN, SUB1, ade_extension, ade_settings


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_bucket_math() -> None:
    b = TokenBucket.full(BucketSpec(capacity=3, refill_per_s=0.5), now=0.0)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.seconds_until_token(0.0) == pytest.approx(2.0)
    assert not b.take(1.0)
    assert b.take(2.0)
    b.refill(100.0)
    assert b.remaining(100.0) == 3  # capped at capacity
    per_min = TokenBucket.full(BucketSpec(capacity=12, refill_per_min=4), now=0.0)
    assert per_min.rate == pytest.approx(4 / 60)
    assert retry_after_seconds(0.2) == 1 and retry_after_seconds(14.01) == 15 and retry_after_seconds(15.0) == 15


def test_documented_defaults() -> None:
    spec = ThrottlingSpec()
    assert spec.enabled
    assert (spec.reads.capacity, spec.reads.rate) == (250, 25)
    assert (spec.writes.capacity, spec.writes.rate) == (200, 10)
    assert (spec.deletes.capacity, spec.deletes.rate) == (200, 10)
    assert (spec.vm_updates.capacity, spec.vm_updates.rate * 60) == (12, pytest.approx(4))
    assert (spec.vm_updates_subscription.capacity, spec.vm_updates_subscription.rate * 60) == (1500, pytest.approx(500))


def test_throttler_decisions() -> None:
    clock = FakeTime()
    t = Throttler(ThrottlingSpec(reads=BucketSpec(capacity=2, refill_per_s=1)), monotonic=clock)
    assert t.check(SUB1, "GET").headers == {"x-ms-ratelimit-remaining-subscription-reads": "1"}
    assert t.check(SUB1, "GET").headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    d = t.check(SUB1, "GET")
    assert d.throttled and d.retry_after == 1 and d.body is not None
    assert d.body["error"]["code"] == "SubscriptionRequestsThrottled"
    assert not t.check("other-sub", "GET").throttled  # per subscription
    assert t.check(SUB1, "DELETE").headers == {"x-ms-ratelimit-remaining-subscription-deletes": "199"}
    clock.t += 1.0
    assert not t.check(SUB1, "GET").throttled
    # Compute "Update VM" per VM: 12 then 429 with OperationNotAllowed/TooManyRequests, 15 s for the next token.
    for i in range(12):
        d = t.check(SUB1, "PUT", vm="web-01")
        assert d.headers["x-ms-ratelimit-remaining-resource"].startswith(f"Microsoft.Compute/UpdateVM;{11 - i},")
    d = t.check(SUB1, "PUT", vm="web-01")
    assert d.throttled and d.retry_after == 15 and d.body is not None
    assert d.body["error"]["code"] == "OperationNotAllowed"
    assert d.body["error"]["details"][0]["code"] == "TooManyRequests"
    assert not t.check(SUB1, "PUT", vm="web-02").throttled
    t.configure(ThrottlingSpec(enabled=False))
    assert t.check(SUB1, "PUT", vm="web-01").headers == {}


@pytest.fixture(scope="module")
def small() -> Iterator[SimServer]:
    fleet = FleetSpec.model_validate(
        {
            **FLEET,
            "sim": {
                "throttling": {
                    "reads": {"capacity": 5, "refill_per_s": 0.2},
                    "vm_updates": {"capacity": 2, "refill_per_min": 4},
                }
            },
        }
    )
    server = SimServer(fleet, clock=SimClock(scale=FROZEN))
    server.start_in_thread()
    try:
        yield server
    finally:
        server.stop()


def client(server: SimServer, **kw: Any) -> ComputeManagementClient:
    return ComputeManagementClient(
        StaticTokenCredential("t"),
        SUB1,
        base_url=server.base_url,
        connection_verify=str(server.ca_path),
        polling_interval=0.05,
        **kw,
    )


def headers_of(sdk_call: Any) -> dict[str, str]:
    return dict(sdk_call(cls=lambda pipeline_response, deserialized, headers: pipeline_response.http_response.headers))


def test_reads_throttled_through_sdk(small: SimServer) -> None:
    small.set_throttling(reads={"capacity": 5, "refill_per_s": 0.2})
    c = client(small, retry_total=0)
    seen = [
        headers_of(lambda **kw: c.virtual_machines.get("rg-web", "web-01", **kw))[
            "x-ms-ratelimit-remaining-subscription-reads"
        ]
        for _ in range(5)
    ]
    assert seen == ["4", "3", "2", "1", "0"]
    with pytest.raises(HttpResponseError) as err:
        c.virtual_machines.get("rg-web", "web-01")
    assert err.value.status_code == 429
    assert err.value.error is not None and err.value.error.code == "SubscriptionRequestsThrottled"
    assert err.value.response.headers["Retry-After"] == "5"
    assert small.requests()[-1].status == 429
    # Writes have their own bucket.
    small.set_throttling(enabled=False)
    assert c.virtual_machines.get("rg-web", "web-01").name == "web-01"


def test_update_vm_policy_through_sdk(small: SimServer) -> None:
    small.set_throttling(enabled=True, reads={"capacity": 1000, "refill_per_s": 100})
    c = client(small, retry_total=0)
    body = ade_extension(ade_settings(SequenceVersion="t1"))
    poller = c.virtual_machine_extensions.begin_create_or_update(
        "rg-web",
        "web-05",
        "Custom",
        {**body, "properties": {**body["properties"], "publisher": "Contoso", "type": "Custom"}},
    )
    rate = poller.polling_method()._initial_response.http_response.headers  # type: ignore[attr-defined]
    assert rate["x-ms-ratelimit-remaining-resource"].startswith("Microsoft.Compute/UpdateVM;1,")
    assert rate["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    c.virtual_machine_extensions.begin_delete("rg-web", "web-05", "Custom")
    with pytest.raises(HttpResponseError) as err:
        c.virtual_machine_extensions.begin_delete("rg-web", "web-05", "Custom")
    assert err.value.status_code == 429
    assert err.value.error is not None and err.value.error.code == "OperationNotAllowed"
    assert err.value.response.headers["Retry-After"] == "15"
    assert [r.status for r in small.writes_for("web-05/extensions")][-1] == 429


def test_control_endpoint(small: SimServer) -> None:
    ctx = __import__("ssl").create_default_context(cafile=str(small.ca_path))
    req = urllib.request.Request(
        small.base_url + "/_sim/throttling",
        data=json.dumps({"writes": {"capacity": 7, "refill_per_s": 1}}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, context=ctx) as resp:
        spec = json.loads(resp.read())
    assert spec["writes"] == {"capacity": 7.0, "refill_per_s": 1.0}
    assert small.throttler.spec.writes.capacity == 7
    small.set_throttling(ThrottlingSpec())
