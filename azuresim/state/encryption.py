"""The ADE-for-Linux encryption timeline, as a pure function of time.

Given when an operation started, the VM's volumes and the simulated rates, :func:`evaluate` says what the
guest has done by ``now``: per-volume state, whether the settings are stamped on the disks, and exactly
what the extension reports (``statuses[0]`` and the ``{"data", "os"}`` substatus). Nothing runs in the
background: every read recomputes from the clock, so advancing the clock is all a test needs.

Modelled on the real extension (docs/arm-reference.md §b): stamping first (the PUT's LRO ends there), then data
volumes one after another, then the OS volume; the extension's "encryption marker" makes the substatus
say ``EncryptionInProgress`` for every requested volume class until the whole operation has finished.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class VolumeKind(StrEnum):
    OS = "os"
    DATA = "data"


class VolumeState(StrEnum):
    NOT_ENCRYPTED = "NotEncrypted"
    ENCRYPTION_IN_PROGRESS = "EncryptionInProgress"
    ENCRYPTED = "Encrypted"
    DECRYPTION_IN_PROGRESS = "DecryptionInProgress"


class Operation(StrEnum):
    ENABLE = "EnableEncryption"
    ENABLE_FORMAT_ALL = "EnableEncryptionFormatAll"
    DISABLE = "DisableEncryption"


class VolumeType(StrEnum):
    OS = "OS"
    DATA = "Data"
    ALL = "All"

    @classmethod
    def parse(cls, value: str) -> VolumeType:
        """The extension lower-cases VolumeType before comparing, so ``DATA``/``all`` are accepted."""
        for member in cls:
            if member.value.lower() == value.lower():
                return member
        raise ValueError(f"Unknown Volume Type: {value}, has to be one of ['OS','Data','All']")


# Status triples (code, level, displayStatus) as ARM surfaces the handler's status file.
TRANSITIONING = ("ProvisioningState/transitioning", "Info", "Transitioning")
SUCCEEDED = ("ProvisioningState/succeeded", "Info", "Provisioning succeeded")
STRIPDOWN_ERROR = ("ProvisioningState/failed/19", "Error", "Provisioning failed")
UNKNOWN_ERROR = ("ProvisioningState/failed/100", "Error", "Provisioning failed")
CONFIG_ERROR = ("ProvisioningState/failed/53", "Error", "Provisioning failed")
UNMOUNT_ERROR = ("ProvisioningState/failed/22", "Error", "Provisioning failed")

STRIPDOWN_MESSAGE = "Restarted extension from stripped down OS"
DISABLE_REFUSED_MESSAGE = (
    "Failed to disable the extension with error: "
    + "Disabling encryption is not supported when OS volume is encrypted."
)
IN_PROGRESS_MESSAGE = "An operation is already in progress. Please wait for it to complete."


def unmount_message(attempt: int) -> str:
    """The OS pass's status while /oldroot is busy (code 22, unmount_oldroot_error; arm-reference §c)."""
    return (
        f"Attempt #{attempt} to unmount /oldroot failed with error: Failed to unmount /oldroot: Device or resource "
        "busy, stack trace: Traceback (most recent call last): ... (see the extension log)"
    )


@dataclass(frozen=True)
class Volume:
    """A guest volume backed by one disk (``name`` is the disk name)."""

    name: str
    kind: VolumeKind
    size_gb: int
    mounted: bool = True


@dataclass(frozen=True)
class Rates:
    gb_per_hour: float = 10.0
    stamp_seconds: float = 120.0
    stripdown_seconds: float = 600.0
    format_all_seconds: float = 300.0

    def volume_seconds(self, size_gb: int) -> float:
        return size_gb / self.gb_per_hour * 3600.0


@dataclass(frozen=True)
class Run:
    """One accepted enable/disable operation (one SequenceVersion that the handler acted on)."""

    operation: Operation
    volume_type: VolumeType
    started_at: datetime
    initial: Mapping[str, VolumeState]
    stripdown: bool = False
    unmount_attempts: int = 0
    """Failed /oldroot unmounts at the OS pass's start (after the stripdown restart), ``unmount_retry_seconds``
    each: transient errors the extension recovers from by itself."""
    unmount_retry_seconds: float = 60.0


@dataclass(frozen=True)
class Step:
    volume: str
    start: float
    end: float


@dataclass(frozen=True)
class Plan:
    """Offsets (seconds from the run's start) of every phase."""

    stamp_end: float
    data_steps: tuple[Step, ...]
    os_step: Step | None
    end: float
    stamp_targets: tuple[str, ...]
    refused: str | None = None


@dataclass(frozen=True)
class Status:
    code: str
    level: str
    display_status: str
    message: str


@dataclass(frozen=True)
class Progress:
    volumes: Mapping[str, VolumeState]
    os: str
    data: str
    status: Status
    stamped: bool
    done: bool
    failed: bool
    lro_done_at: datetime
    finished_at: datetime

    @property
    def substatus_message(self) -> str:
        # Key order as Python 3's json.dumps of the extension's dict literal (data first).
        return '{"data": "%s", "os": "%s"}' % (self.data, self.os)  # noqa: UP031


def _os_volume(volumes: Sequence[Volume]) -> Volume | None:
    return next((v for v in volumes if v.kind is VolumeKind.OS), None)


def _mounted_data(volumes: Sequence[Volume]) -> list[Volume]:
    return [v for v in volumes if v.kind is VolumeKind.DATA and v.mounted]


def plan(run: Run, volumes: Sequence[Volume], rates: Rates) -> Plan:
    """Lay out the phases of ``run``: stamping, data volumes in order, then the OS volume."""
    os_vol = _os_volume(volumes)
    data = _mounted_data(volumes)
    t = rates.stamp_seconds
    steps: list[Step] = []
    if run.operation is Operation.DISABLE:
        targets = tuple(v.name for v in volumes if v.kind is VolumeKind.DATA)
        if os_vol is not None and run.initial.get(os_vol.name) is not VolumeState.NOT_ENCRYPTED:
            return Plan(t, (), None, t, (), refused=DISABLE_REFUSED_MESSAGE)
        for v in data:
            if run.initial.get(v.name) is VolumeState.ENCRYPTED:
                steps.append(Step(v.name, t, t + rates.volume_seconds(v.size_gb)))
                t = steps[-1].end
        return Plan(rates.stamp_seconds, tuple(steps), None, t, targets)

    covers_os = run.volume_type in (VolumeType.OS, VolumeType.ALL) and os_vol is not None
    covers_data = run.volume_type in (VolumeType.DATA, VolumeType.ALL)
    targets_list = [os_vol.name] if covers_os and os_vol is not None else []
    if covers_data:
        targets_list += [v.name for v in data]
        for v in data:
            if run.initial.get(v.name) is VolumeState.ENCRYPTED:
                continue
            if run.operation is Operation.ENABLE_FORMAT_ALL:
                duration = rates.format_all_seconds
            else:
                duration = rates.volume_seconds(v.size_gb)
            steps.append(Step(v.name, t, t + duration))
            t = steps[-1].end
    os_step = None
    if covers_os and os_vol is not None and run.initial.get(os_vol.name) is not VolumeState.ENCRYPTED:
        os_step = Step(os_vol.name, t, t + rates.volume_seconds(os_vol.size_gb))
        t = os_step.end
    return Plan(rates.stamp_seconds, tuple(steps), os_step, t, tuple(targets_list))


def aggregate(
    volumes: Sequence[Volume],
    states: Mapping[str, VolumeState],
    *,
    os_override: str | None = None,
    data_override: str | None = None,
) -> tuple[str, str]:
    """The substatus ``(os, data)`` values, as the extension's ``get_encryption_status`` computes them."""
    os_vol = _os_volume(volumes)
    if os_override is not None:
        os_value = os_override
    elif os_vol is not None and states.get(os_vol.name) is VolumeState.ENCRYPTED:
        os_value = VolumeState.ENCRYPTED.value
    else:
        os_value = VolumeState.NOT_ENCRYPTED.value
    data = _mounted_data(volumes)
    if not data:
        data_value = "NotMounted"
    elif data_override is not None:
        data_value = data_override
    elif all(states.get(v.name) is VolumeState.ENCRYPTED for v in data):
        data_value = VolumeState.ENCRYPTED.value
    else:
        data_value = VolumeState.NOT_ENCRYPTED.value
    return os_value, data_value


def _success_message(volume_type: VolumeType) -> str:
    return {
        VolumeType.ALL: "Encryption succeeded for all volumes",
        VolumeType.DATA: "Encryption succeeded for data volumes",
        VolumeType.OS: "Encryption succeeded for OS volume",
    }[volume_type]


def _status(triple: tuple[str, str, str], message: str) -> Status:
    return Status(triple[0], triple[1], triple[2], message)


def _percent(elapsed: float, step: Step) -> int:
    """How far the guest is through one volume, as the extension's messages say it (a whole percent)."""
    return math.floor((elapsed - step.start) / max(step.end - step.start, 1e-9) * 100)


def evaluate(run: Run, volumes: Sequence[Volume], rates: Rates, now: datetime) -> Progress:
    """What the guest reports for ``run`` at ``now``."""
    p = plan(run, volumes, rates)
    elapsed = (now - run.started_at).total_seconds()
    done = elapsed >= p.end
    disabling = run.operation is Operation.DISABLE
    states: dict[str, VolumeState] = {v.name: run.initial.get(v.name, VolumeState.NOT_ENCRYPTED) for v in volumes}
    steps = [*p.data_steps, *([p.os_step] if p.os_step else [])]
    active: Step | None = None
    for step in steps:
        if elapsed >= step.end:
            states[step.volume] = VolumeState.NOT_ENCRYPTED if disabling else VolumeState.ENCRYPTED
        elif elapsed >= step.start:
            states[step.volume] = (
                VolumeState.DECRYPTION_IN_PROGRESS if disabling else VolumeState.ENCRYPTION_IN_PROGRESS
            )
            active = step

    os_override: str | None = None
    data_override: str | None = None
    if not done and p.refused is None:
        if disabling:
            data_override = VolumeState.DECRYPTION_IN_PROGRESS.value
        else:
            if run.volume_type in (VolumeType.DATA, VolumeType.ALL):
                data_override = VolumeState.ENCRYPTION_IN_PROGRESS.value
            if p.os_step is not None:
                os_override = VolumeState.ENCRYPTION_IN_PROGRESS.value
    os_value, data_value = aggregate(volumes, states, os_override=os_override, data_override=data_override)

    if p.refused is not None:
        status = _status(TRANSITIONING, "") if not done else _status(UNKNOWN_ERROR, p.refused)
    elif elapsed < p.stamp_end:
        status = _status(TRANSITIONING, "")
    elif done:
        status = _status(SUCCEEDED, "Decryption succeeded" if disabling else _success_message(run.volume_type))
    elif active is not None and active is p.os_step:
        into = elapsed - active.start
        stripdown_s = rates.stripdown_seconds if run.stripdown else 0.0
        if into < stripdown_s:
            status = _status(STRIPDOWN_ERROR, STRIPDOWN_MESSAGE)
        elif into < stripdown_s + run.unmount_attempts * run.unmount_retry_seconds:
            attempt = int((into - stripdown_s) // run.unmount_retry_seconds) + 1
            status = _status(UNMOUNT_ERROR, unmount_message(attempt))
        else:
            pct = _percent(elapsed, active)
            status = _status(SUCCEEDED, "OS disk encryption started" if pct == 0 else f"Encrypting OS volume: {pct}%")
    elif active is not None:
        index = p.data_steps.index(active) + 1
        total = len(p.data_steps)
        pct = _percent(elapsed, active)
        if run.operation is Operation.ENABLE_FORMAT_ALL:
            message = f"Encrypting and formatting {total} data volumes"
        elif index == 1 and pct == 0:
            message = "Decryption started" if disabling else f"Encrypting {total} data volumes"
        else:
            verb = "Decrypting" if disabling else "Encrypting"
            message = f"{verb} data volume {index}/{total}: {pct}%"
        status = _status(SUCCEEDED, message)
    else:  # pragma: no cover - between phases there is no gap
        status = _status(SUCCEEDED, "")

    return Progress(
        volumes=states,
        os=os_value,
        data=data_value,
        status=status,
        stamped=elapsed >= p.stamp_end and p.refused is None,
        done=done,
        failed=p.refused is not None,
        lro_done_at=run.started_at + timedelta(seconds=p.stamp_end),
        finished_at=run.started_at + timedelta(seconds=p.end),
    )
