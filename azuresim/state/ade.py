"""The guest-side ADE handler of one VM, and what it stamps on managed disks.

:class:`AdeState` turns a PUT of the ADE extension into a run of the encryption timeline
(:mod:`azuresim.state.encryption`) and says, for any ``now``, what the extension reports and which disks carry
encryption settings. It lives on the VM, not on the extension resource: deleting the extension does not decrypt
disks.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from azuresim.fleet import ExtensionStatusSpec
from azuresim.state import encryption as enc
from azuresim.state.encryption import (
    Operation,
    Progress,
    Rates,
    Run,
    Status,
    Volume,
    VolumeKind,
    VolumeState,
    VolumeType,
)

RESTART_PENDING = "VMRestartPending"
RESTART_PENDING_MESSAGE = "OS disk successfully encrypted, please reboot the VM"


@dataclass(frozen=True)
class DiskStamp:
    """What ADE stamps on a managed disk (one entry of ``encryptionSettingsCollection``)."""

    secret_url: str
    source_vault_id: str
    kek_url: str | None = None
    kek_vault_id: str | None = None
    version: str = "1.1"
    """``encryptionSettingsVersion``: "1.1" single-pass ADE, "1.0" the previous (AAD, dual-pass) release (R-LIM-1)."""

    def settings_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "diskEncryptionKey": {"secretUrl": self.secret_url, "sourceVault": {"id": self.source_vault_id}}
        }
        if self.kek_url:
            body["keyEncryptionKey"] = {
                "keyUrl": self.kek_url,
                "sourceVault": {"id": self.kek_vault_id or self.source_vault_id},
            }
        return body

    @staticmethod
    def collection(stamp: DiskStamp) -> dict[str, Any]:
        return {
            "enabled": True,
            "encryptionSettings": [stamp.settings_body()],
            "encryptionSettingsVersion": stamp.version,
        }


def new_stamp(
    vault_name: str, vault_id: str, kek_url: str | None, kek_vault_id: str | None, version: str = "1.1"
) -> DiskStamp:
    secret_url = f"https://{vault_name}.vault.azure.net/secrets/{uuid.uuid4()}/{secrets.token_hex(16)}"
    return DiskStamp(secret_url, vault_id, kek_url or None, (kek_vault_id or vault_id) if kek_url else None, version)


def _extension_failure(ext_name: str, message: str) -> tuple[str, str]:
    return (
        "VMExtensionProvisioningError",
        f"VM has reported a failure when processing extension '{ext_name}'. Error message: \"{message}\".",
    )


@dataclass(frozen=True)
class PutOutcome:
    """What a PUT of the ADE extension did: ``changed`` False means an idempotent no-op."""

    changed: bool
    lro_seconds: float = 0.0
    error: tuple[str, str] | None = None


@dataclass
class AdeState:
    """The guest-side ADE handler of one VM: materialised volume states plus the current run, if any.

    Lives on the VM, not on the extension resource: deleting the extension does not decrypt disks.
    """

    volumes: tuple[Volume, ...]
    rates: Rates
    stripdown: bool
    base: dict[str, VolumeState]
    stamps: dict[str, DiskStamp] = field(default_factory=dict)
    idle_status: Status = field(default_factory=lambda: Status(*enc.SUCCEEDED, ""))
    run: Run | None = None
    run_stamps: dict[str, DiskStamp] = field(default_factory=dict)
    last_settings: dict[str, Any] | None = None
    last_failed: bool = False
    rejected: bool = False
    failure: Status | None = None
    failure_visible_at: datetime | None = None
    # Faults (azuresim.faults): a frozen timeline and a reboot the OS pass waits for.
    stuck_percent: int | None = None
    halted_at: datetime | None = None
    restart_pending: bool = False
    restarts: list[datetime] = field(default_factory=list)
    marked: set[str] = field(default_factory=set)
    """Disks ADE ever stamped: their marker survives decryption (M-2, :func:`azuresim.state.disks.ade_marker`)."""
    wording: ExtensionStatusSpec = field(default_factory=ExtensionStatusSpec)
    """How the extension words its status (substatus variants, transient errors); see :meth:`reword`."""

    def reword(self, wording: ExtensionStatusSpec) -> None:
        """Change how the extension words its status, for the run under way too (fleet file or control endpoint)."""
        self.wording = wording
        if wording.stripdown is not None:
            self.stripdown = wording.stripdown
        if self.run is not None:
            self.run = self._shape(self.run)

    def _shape(self, run: Run) -> Run:
        return replace(
            run,
            stripdown=self.stripdown,
            unmount_attempts=self.wording.unmount_attempts,
            unmount_retry_seconds=self.wording.unmount_retry_seconds,
        )

    def effective(self, now: datetime) -> datetime:
        """The guest's own notion of "now": progress stops while stuck or deallocated."""
        t = now
        if self.halted_at is not None:
            t = min(t, self.halted_at)
        if self.run is not None:
            if self.stuck_percent is not None:
                p = enc.plan(self.run, self.volumes, self.rates)
                steps = [*p.data_steps, *([p.os_step] if p.os_step else [])]
                if steps:
                    first = steps[0]
                    offset = first.start + (first.end - first.start) * self.stuck_percent / 100.0
                    t = min(t, self.run.started_at + timedelta(seconds=offset))
            t = max(t, min(now, self.run.started_at))
        return t

    def _awaiting_restart(self, now: datetime) -> bool:
        if not self.restart_pending or self.run is None:
            return False
        p = enc.plan(self.run, self.volumes, self.rates)
        if p.os_step is None:
            return False
        os_done = self.run.started_at + timedelta(seconds=p.os_step.end)
        if self.effective(now) < os_done:
            return False
        return not any(os_done <= t <= now for t in self.restarts)

    def _raw(self, now: datetime) -> Progress:
        if self.run is not None:
            return enc.evaluate(self.run, self.volumes, self.rates, self.effective(now))
        os_value, data_value = enc.aggregate(self.volumes, self.base)
        return Progress(
            volumes=dict(self.base),
            os=os_value,
            data=data_value,
            status=self.idle_status,
            stamped=True,
            done=True,
            failed=False,
            lro_done_at=now,
            finished_at=now,
        )

    def progress(self, now: datetime) -> Progress:
        """What the extension reports now, including "already in progress" and failure overlays."""
        prog = self._raw(now)
        status = prog.status
        if self._awaiting_restart(now):
            return Progress(
                volumes=prog.volumes,
                os=RESTART_PENDING,
                data=prog.data,
                status=Status(*enc.SUCCEEDED, RESTART_PENDING_MESSAGE),
                stamped=prog.stamped,
                done=False,
                failed=False,
                lro_done_at=prog.lro_done_at,
                finished_at=prog.finished_at,
            )
        if self.rejected and not prog.done:
            status = Status(status.code, status.level, status.display_status, enc.IN_PROGRESS_MESSAGE)
        if self.failure and self.failure_visible_at and now >= self.failure_visible_at:
            status = self.failure
        if status is prog.status:
            return prog
        return Progress(
            volumes=prog.volumes,
            os=prog.os,
            data=prog.data,
            status=status,
            stamped=prog.stamped,
            done=prog.done,
            failed=prog.failed or status.level == "Error",
            lro_done_at=prog.lro_done_at,
            finished_at=prog.finished_at,
        )

    def stamps_at(self, now: datetime) -> dict[str, DiskStamp]:
        stamps = dict(self.stamps)
        if self.run is None:
            return stamps
        prog = enc.evaluate(self.run, self.volumes, self.rates, self.effective(now))
        if self.run.operation is Operation.DISABLE:
            if prog.done and not prog.failed:
                for vol in self.volumes:
                    if vol.kind is VolumeKind.DATA:
                        stamps.pop(vol.name, None)
        elif prog.stamped:
            stamps.update(self.run_stamps)
        return stamps

    def _fold(self, now: datetime) -> None:
        """Make the finished run part of the base state before starting another one."""
        if self.run is None:
            return
        prog = enc.evaluate(self.run, self.volumes, self.rates, self.effective(now))
        self.marked.update(self.stamps, self.stamps_at(now))
        self.stamps = self.stamps_at(now)
        self.base = dict(prog.volumes)
        self.idle_status = prog.status
        self.run = None
        self.run_stamps = {}

    def inject_failure(
        self, settings: dict[str, Any], now: datetime, code: str, message: str, ext_name: str
    ) -> PutOutcome:
        """Fault ``extension_failure``: this PUT's LRO ends Failed and the status shows the error."""
        self.last_settings = copy.deepcopy({"settings": settings, "forceUpdateTag": None})
        self.rejected = False
        return self._fail(now, (f"ProvisioningState/failed/{code}", "Error", "Provisioning failed"), message, ext_name)

    def _fail(self, now: datetime, triple: tuple[str, str, str], message: str, ext_name: str) -> PutOutcome:
        self.failure = Status(triple[0], triple[1], triple[2], message)
        self.failure_visible_at = now + timedelta(seconds=self.rates.stamp_seconds)
        self.last_failed = True
        return PutOutcome(True, self.rates.stamp_seconds, _extension_failure(ext_name, message))

    def put(
        self,
        settings: dict[str, Any],
        now: datetime,
        *,
        fresh: bool,
        ext_name: str,
        vault_problem: str | None,
        force_update_tag: str | None = None,
    ) -> PutOutcome:
        """Apply a PUT of the extension with public ``settings`` (see arm-reference §a.3)."""
        fingerprint = {"settings": settings, "forceUpdateTag": force_update_tag}
        if not fresh and not self.last_failed and self.last_settings == fingerprint:
            return PutOutcome(False)
        self.last_settings = copy.deepcopy(fingerprint)
        self.last_failed = False
        self.rejected = False
        self.failure = None
        self.failure_visible_at = None

        op_name = str(settings.get("EncryptionOperation") or "")
        try:
            operation = Operation(op_name)
        except ValueError:
            return self._fail(now, enc.CONFIG_ERROR, f"Encryption operation {op_name} is not supported", ext_name)
        try:
            volume_type = VolumeType.parse(str(settings.get("VolumeType") or ""))
        except ValueError as exc:
            return self._fail(now, enc.CONFIG_ERROR, str(exc), ext_name)
        kek_url = settings.get("KeyEncryptionKeyURL") or None
        kek_vault = settings.get("KekVaultResourceId") or None
        if operation is not Operation.DISABLE:
            if not settings.get("KeyVaultURL") or not settings.get("KeyVaultResourceId"):
                return self._fail(
                    now, enc.CONFIG_ERROR, "A KeyVault ID is required, but is missing or invalid", ext_name
                )
            if kek_vault and not kek_url:
                message = "The KEK KeyVault ID was specified but the KEK URL was missing"
                return self._fail(now, enc.CONFIG_ERROR, message, ext_name)
            if kek_url and not kek_vault:
                message = "A KEK URL was specified, but the KEK KeyVault ID was missing"
                return self._fail(now, enc.CONFIG_ERROR, message, ext_name)

        current = self._raw(now)
        if self.run is not None and not current.done:
            if operation is Operation.DISABLE and current.os != VolumeState.NOT_ENCRYPTED.value:
                return self._fail(now, enc.UNKNOWN_ERROR, enc.DISABLE_REFUSED_MESSAGE, ext_name)
            # The real handler copies the previous status with an "already in progress" message.
            self.rejected = True
            return PutOutcome(True, self.rates.stamp_seconds)
        if vault_problem and operation is not Operation.DISABLE:
            message = f"Encryption settings post request was not accepted. Error: {vault_problem}"
            return self._fail(now, ("ProvisioningState/failed/13", "Error", "Provisioning failed"), message, ext_name)

        self._fold(now)
        self.run = self._shape(Run(operation, volume_type, now, dict(self.base)))
        plan = enc.plan(self.run, self.volumes, self.rates)
        self.run_stamps = {}
        if operation is not Operation.DISABLE:
            vault_id = str(settings["KeyVaultResourceId"])
            vault_name = _vault_name(str(settings["KeyVaultURL"]), vault_id)
            for name in plan.stamp_targets:
                self.run_stamps[name] = new_stamp(vault_name, vault_id, kek_url, kek_vault)
        if plan.refused:
            self.last_failed = True
            return PutOutcome(True, plan.stamp_end, _extension_failure(ext_name, plan.refused))
        return PutOutcome(True, plan.stamp_end)


def _vault_name(url: str, resource_id: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    name = host.split(".", 1)[0]
    return name or resource_id.rstrip("/").rsplit("/", 1)[-1]
