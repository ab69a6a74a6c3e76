"""Encryption progress, read as a poll whose loop is the activity's retry policy (docs/original-design.md §4).

"Still encrypting" is raised as a benign, retryable error, so hours of polling add no history events and
hold no worker slot between checks; a terminal extension error is raised non-retryable with its message. So is a
VM that was deleted, or stopped or deallocated, during the wait: nothing can progress there, and polling on would
only run out the run's deadline.

The error's ``next_retry_delay`` is the poll schedule of :mod:`adeflow.domain.polling` (sparse far from the
expected finish, dense near it, within ``max_latency_s``). The power state is read only when the progress stalls
(a stopped guest keeps showing its last percent), or, where the extension gives no percent, every
``polling.POWER_CHECK_EVERY``-th read as before. A request without ``max_latency_s`` (a run started before the schedule)
polls at its retry policy's fixed interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from adeflow.domain import polling, rules
from adeflow.domain.arm_parse import parse_extension
from adeflow.domain.model import ADE_EXTENSION_NAME, EncryptionStatus, ProgressRequest, VolumeState
from adeflow.domain.rules import ProgressKind, ProgressVerdict, assess_disable_progress, assess_encryption_progress
from adeflow.domain.vocabulary import Reason


class StatusActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    async def read_status(self, request: ProgressRequest) -> EncryptionStatus:
        vm = request.vm
        compute = self._clients.compute(vm.subscription_id)
        try:
            ext = await compute.virtual_machine_extensions.get(
                vm.resource_group, vm.name, ADE_EXTENSION_NAME, expand="instanceView"
            )
        except ResourceNotFoundError:
            if not await self._vm_exists(request):
                raise _ended(vm.name, rules.vm_deleted_verdict(request.encryption_operation)) from None
            return EncryptionStatus(VolumeState.UNKNOWN, VolumeState.UNKNOWN, extension_present=False)
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading encryption status of VM {vm.name}") from exc
        facts = parse_extension(ext.as_dict())
        if facts.status is None:
            return EncryptionStatus(VolumeState.UNKNOWN, VolumeState.UNKNOWN, sequence_version=facts.sequence_version)
        return facts.status

    @activity.defn(name="await_encryption")
    async def await_encryption(self, request: ProgressRequest) -> EncryptionStatus:
        """One status check; returns when done, raises a retryable benign error while still encrypting."""
        info = activity.info()
        elapsed_s = (info.current_attempt_scheduled_time - info.scheduled_time).total_seconds()
        disabling = request.encryption_operation == "DisableEncryption"
        verb = "decrypting" if disabling else "encrypting"
        schedule = _poll_input(request, elapsed_s, None)
        if schedule is not None and info.attempt == 1 and polling.first_read_can_wait(schedule):
            # the enable's LRO just ended: at the fastest expected rate nothing can be done before this delay
            first = polling.next_poll(schedule)
            raise _still_working(f"still {verb} {request.vm.name}: first read in {first.delay_s:.0f} s", "", first)
        status = await self.read_status(request)
        activity.heartbeat(status.describe())
        if status.extension_present and status.sequence_version not in ("", request.sequence_version):
            raise ApplicationError(
                f"{request.vm.name}: the ADE extension now carries sequence version {status.sequence_version}, "
                f"not ours ({request.sequence_version}); someone else re-ran ADE on this VM (R-NEW-4).",
                type=Reason.SUPERSEDED,
                non_retryable=True,
            )
        verdict = (
            assess_disable_progress(status) if disabling else assess_encryption_progress(status, request.volume_type)
        )
        if verdict.kind is ProgressKind.DONE:
            return status
        if verdict.kind is ProgressKind.WAITING:
            schedule = _poll_input(request, elapsed_s, status)
            plan = polling.next_poll(schedule) if schedule is not None else None
            fraction = schedule.fraction if schedule is not None else None
            if fraction is not None:  # the next attempt compares its progress with this one's (a stall)
                activity.heartbeat(status.describe(), [elapsed_s, fraction])
            if polling.power_check_due(_previous_mark(info.heartbeat_details), elapsed_s, fraction, info.attempt):
                await self._raise_if_not_running(request)
            # details[0] is what the workflow quotes as "last seen" if the run's deadline passes
            message = f"still {verb} {request.vm.name}: {verdict.message}"
            raise _still_working(message, status.describe(), plan, status)
        raise ApplicationError(f"{request.vm.name}: {verdict.message}", status, type=verdict.reason, non_retryable=True)

    async def _vm_exists(self, request: ProgressRequest) -> bool:
        """Tells a deleted VM from a removed extension (both answer the extension GET with 404)."""
        vm = request.vm
        try:
            await self._clients.compute(vm.subscription_id).virtual_machines.get(vm.resource_group, vm.name)
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading VM {vm.name}") from exc
        return True

    async def _raise_if_not_running(self, request: ProgressRequest) -> None:
        vm = request.vm
        compute = self._clients.compute(vm.subscription_id)
        try:
            view: dict[str, Any] = (await compute.virtual_machines.instance_view(vm.resource_group, vm.name)).as_dict()
        except ResourceNotFoundError:
            raise _ended(vm.name, rules.vm_deleted_verdict(request.encryption_operation)) from None
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading the power state of VM {vm.name}") from exc
        codes = [str(status.get("code") or "") for status in view.get("statuses") or []]
        power = next((code.split("/", 1)[1] for code in codes if code.startswith("PowerState/")), "")
        stopped = rules.assess_power_state(power, request.encryption_operation)
        if stopped is not None:
            raise _ended(vm.name, stopped)


def _ended(vm_name: str, verdict: ProgressVerdict) -> ApplicationError:
    return ApplicationError(f"{vm_name}: {verdict.message}", type=verdict.reason, non_retryable=True)


def _poll_input(
    request: ProgressRequest, elapsed_s: float, status: EncryptionStatus | None
) -> polling.PollInput | None:
    """The schedule's input, or None for a request without a maximum detection latency (fixed interval)."""
    if request.max_latency_s <= 0:
        return None
    schedule = polling.PollInput(
        encryption_operation=request.encryption_operation,
        volume_type=request.volume_type,
        os_gb=request.os_gb,
        data_gb=tuple(request.data_gb),
        elapsed_s=elapsed_s,
        max_latency_s=request.max_latency_s,
        fast_gb_per_hour=request.fast_gb_per_hour,
    )
    mark = status.progress if status is not None else None
    return replace(schedule, fraction=polling.fraction_done(schedule, mark))


def _previous_mark(details: Sequence[Any]) -> tuple[float, float] | None:
    """The previous read's ``(elapsed_s, fraction)``, from its heartbeat ``[describe, [elapsed, fraction]]``."""
    before = details[1] if len(details) > 1 else None
    return (float(before[0]), float(before[1])) if isinstance(before, list) and len(before) == 2 else None


def _still_working(
    message: str, last_seen: str, plan: polling.PollPlan | None, status: EncryptionStatus | None = None
) -> ApplicationError:
    """The benign "still working" error; its ``next_retry_delay`` is the schedule's (None: the retry policy's)."""
    return ApplicationError(
        message,
        last_seen,
        *([status] if status is not None else []),
        type=Reason.STILL_WORKING,
        category=ApplicationErrorCategory.BENIGN,
        next_retry_delay=timedelta(seconds=plan.delay_s) if plan is not None else None,
    )
