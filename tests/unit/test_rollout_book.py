"""RolloutBook: waves and canary order, concurrency, failure budget, operator control, counts that add up."""

from __future__ import annotations

from adeflow.domain.fleet import FailureBudget, RolloutPolicy, VmSettings
from adeflow.domain.rollout import (
    RolloutBook,
    RolloutInput,
    RolloutStage,
    RolloutTarget,
    VmFinished,
    VmStatus,
    wave_bounds,
)

SUBS = ("sub-a", "sub-b")


def book(per_sub: int = 10, **policy: object) -> RolloutBook:
    settings = VmSettings(key_vault_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv")
    targets = [RolloutTarget(sub, "rg", 0, [f"{sub}-vm{i:02d}" for i in range(per_sub)]) for sub in SUBS]
    defaults: dict[str, object] = {"concurrency": 100, "per_subscription_concurrency": 100, "waves": (4, 8)}
    return RolloutBook(RolloutInput("r1", RolloutPolicy(**{**defaults, **policy}), [settings], targets))  # type: ignore[arg-type]


def finish_all(b: RolloutBook, outcome: str = "encrypted", failing: set[str] = frozenset()) -> list[str]:
    launched = b.next_launches()
    for slot in launched:
        b.mark_started(slot.index)
    for slot in launched:
        b.mark_finished(VmFinished(slot.index, "failed" if slot.vm.name in failing else outcome, seconds=60))
    return [s.vm.name for s in launched]


def assert_counts_add_up(b: RolloutBook) -> None:
    assert sum(b.counts().values()) == b.total


def test_canary_wave_is_first_vm_of_each_subscription_then_growing_waves() -> None:
    b = book()
    assert finish_all(b) == ["sub-a-vm00", "sub-b-vm00"]
    assert len(finish_all(b)) == 4
    assert len(finish_all(b)) == 8
    assert len(finish_all(b)) == 6  # the last size repeats until the fleet is exhausted
    assert b.done() and b.stage() is RolloutStage.COMPLETED
    assert b.counts()["encrypted"] == 20
    assert_counts_add_up(b)


def test_wave_bounds_repeat_the_last_size() -> None:
    assert wave_bounds(20, 2, (4, 8)) == [(0, 2), (2, 6), (6, 14), (14, 20)]


def test_next_wave_waits_for_the_current_one_to_finish() -> None:
    b = book()
    canary = b.next_launches()
    for slot in canary:
        b.mark_started(slot.index)
    assert b.next_launches() == []  # canary still running
    b.mark_finished(VmFinished(canary[0].index, "encrypted"))
    assert b.next_launches() == []
    b.mark_finished(VmFinished(canary[1].index, "refused", reason="ultra-disk", rule="R-LIM-4w"))
    assert len(b.next_launches()) == 4  # a refusal is not a failure


def test_failed_canary_halts_until_resumed() -> None:
    b = book()
    finish_all(b, failing={"sub-b-vm00"})
    assert b.next_launches() == [] and b.stage() is RolloutStage.HALTED
    assert "canary" in b.state.halted
    b.resume("alice")
    assert len(b.next_launches()) == 4
    assert any("resumed by alice" in line for line in b.state.log)


def test_failure_budget_halts_the_rollout() -> None:
    b = book(failure_budget=FailureBudget(count=1))
    finish_all(b)
    failing = {"sub-a-vm01", "sub-a-vm02"}
    finish_all(b, failing=failing)
    assert b.stage() is RolloutStage.HALTED and "failure budget exceeded" in b.state.halted
    assert b.next_launches() == []
    assert [n.vm for n in b.progress().failures] == sorted(failing)
    b.resume("bob")
    assert len(b.next_launches()) == 8
    assert_counts_add_up(b)


def test_concurrency_limits_overall_and_per_subscription() -> None:
    b = book(waves=(100,), concurrency=5, per_subscription_concurrency=2)
    finish_all(b)
    launched = b.next_launches()
    assert len(launched) == 4  # 2 per subscription, under the overall 5
    for slot in launched:
        b.mark_started(slot.index)
    assert b.next_launches() == []
    assert b.progress().running_per_subscription == {"sub-a": 2, "sub-b": 2}


def test_pause_stops_launching_and_resume_continues() -> None:
    b = book()
    finish_all(b)
    b.pause("carol")
    assert b.next_launches() == [] and b.stage() is RolloutStage.PAUSED
    b.resume("carol")
    assert len(b.next_launches()) == 4


def test_cancel_lets_running_vms_finish_and_starts_nothing_new() -> None:
    b = book()
    running = b.next_launches()
    for slot in running:
        b.mark_started(slot.index)
    b.cancel("dave")
    assert b.stage() is RolloutStage.CANCELLING and not b.done()
    for slot in running:
        b.mark_finished(VmFinished(slot.index, "encrypted"))
    assert b.next_launches() == [] and b.done() and b.stage() is RolloutStage.CANCELLED
    assert b.counts()["pending"] == 18
    assert_counts_add_up(b)


def test_retry_failed_requeues_failed_vms_first() -> None:
    b = book(failure_budget=FailureBudget(count=10))
    finish_all(b)
    finish_all(b, failing={"sub-a-vm01"})
    assert b.counts()["failed"] == 1
    b.retry_failed("erin")
    assert b.status(b.find("sub-a-vm01").index) is VmStatus.PENDING  # type: ignore[union-attr]
    assert b.next_launches()[0].vm.name == "sub-a-vm01"
    assert b.progress().failures == []


def test_skip_marks_a_pending_vm_and_it_is_never_launched() -> None:
    b = book()
    b.skip("sub-b-vm05", "frank")
    launched: list[str] = []
    while not b.done():
        launched += finish_all(b)
    assert "sub-b-vm05" not in launched
    assert b.counts()["skipped"] == 1 and b.counts()["encrypted"] == 19


def test_duplicate_or_late_reports_count_once() -> None:
    b = book()
    slot = b.next_launches()[0]
    b.mark_started(slot.index)
    b.mark_finished(VmFinished(slot.index, "encrypted"))
    b.mark_finished(VmFinished(slot.index, "failed"))
    assert b.counts()["encrypted"] == 1 and b.counts()["failed"] == 0


def test_state_survives_continue_as_new() -> None:
    b = book()
    finish_all(b)
    running = b.next_launches()
    for slot in running:
        b.mark_started(slot.index)
    again = RolloutBook(b.request, b.state)
    assert again.counts() == b.counts()
    assert again.progress().running_per_subscription == b.progress().running_per_subscription
    assert again.next_launches() == []


def test_eta_appears_once_vms_finish() -> None:
    b = book()
    assert b.eta_seconds() is None
    finish_all(b)
    eta = b.eta_seconds()
    assert eta is not None and eta > 0


def test_build_rollout_input_compacts_settings_and_groups_in_order() -> None:
    from adeflow.domain.model import VmRef
    from adeflow.domain.rollout import build_rollout_input

    a = VmSettings(key_vault_id="kv-a")
    b = VmSettings(key_vault_id="kv-b")
    vms = [(VmRef("s1", "rg", "v1"), a), (VmRef("s1", "rg", "v2"), a), (VmRef("s1", "rg", "v3"), b)]
    request = build_rollout_input("r", RolloutPolicy(), vms)
    assert request.settings == [a, b]
    assert [(t.settings_index, t.names) for t in request.targets] == [(0, ["v1", "v2"]), (1, ["v3"])]
