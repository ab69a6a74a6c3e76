"""The disks of a migration to encryption at host (docs/ade-migration.md, M-1/M-2/M-3/M-7): the new Upload disk and
the sparse copy into it. Both are idempotent under retry.

- ``create_upload_disk``: PUT the new disk with ``createOption: Upload`` (never ``Copy``: it would carry the ADE
  marker, M-2); a retry adopts the disk an earlier attempt made (tagged with the source VM) and refuses any other
  disk of that name.
- ``copy_disk``: read SAS on the source (only from a deallocated VM, M-7), write SAS on the target, only the source's
  written page ranges copied by Put Page From URL (:mod:`activities.disk_copy`), the checkpoint in the heartbeat
  details so a retry resumes, the copy verified range by range, and both SAS revoked at the end. On a failure that a
  retry can heal, the target's write access stays open (``endGetAccess`` would end its upload for good) and the
  source's is revoked; on a final failure both are revoked.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import structlog
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import Disk
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from activities.azure.heartbeat import await_with_heartbeat
from activities.disk_copy import COPY_STALL_S, CopyBeat, DiskSas, Listing, PageCopier, SasGrants, list_ranges
from adeflow.domain import migration
from adeflow.domain.migration import (
    VHD_FOOTER,
    CopyCheckpoint,
    CopyDiskFacts,
    DiskCopyRequest,
    DiskCopyResult,
    UploadDiskRequest,
    UploadDiskResult,
)
from adeflow.domain.model import Refusal
from adeflow.domain.resource_ids import ResourceId, parse_resource_id
from adeflow.domain.vocabulary import Reason

log = structlog.get_logger(__name__)

REVOKE_ON_FAILURE_S = 20.0
"""How long a failing copy may spend revoking its SAS before it gives up on that (the error still wins)."""


def refuse(vm: str, refusals: list[Refusal]) -> ApplicationError:
    """The first refusal as a non-retryable error: VM, rule, reason, message and fix on one line."""
    first = refusals[0]
    return ApplicationError(
        f"VM {vm}: refused by {first.rule} ({first.reason}): {first.message} Fix: {first.fix}",
        type=first.reason,
        non_retryable=True,
    )


def _ref(resource_id: str, vm: str) -> ResourceId:
    try:
        return parse_resource_id(resource_id)
    except ValueError as exc:
        raise ApplicationError(
            f"VM {vm}: {exc}. Fix: correct the migration input.",
            type=Reason.MIGRATION_INPUT_INVALID,
            non_retryable=True,
        ) from exc


class MigrationDiskActivities:
    def __init__(self, clients: AzureClients, stall_s: float = COPY_STALL_S) -> None:
        """``stall_s``: how long a copy may go without copying a page before the attempt fails (retryable)."""
        self._clients = clients
        self._stall_s = stall_s

    # -- the Upload disk ---------------------------------------------------------------------------------------------

    @activity.defn(name="create_upload_disk")
    async def create_upload_disk(self, request: UploadDiskRequest) -> UploadDiskResult:
        """M-1/M-2: the new disk, empty, for upload (``uploadSizeBytes`` = the source's size + 512); a disk of that
        name from an earlier attempt of this migration is adopted (no second PUT), anyone else's is refused."""
        vm, name = request.vm.name, request.target_name
        refusals = migration.check_new_disk_body(name, request.body)
        if refusals:
            raise refuse(vm, refusals)
        target = _ref(request.target_disk_id, vm)
        source = await self._read_disk(_ref(request.source_disk_id, vm), f"VM {vm}")
        if source is None:
            raise ApplicationError(
                f"VM {vm}: source disk {request.source_name} is gone (M-3). Fix: check the source VM's disks.",
                type=Reason.PRECONDITION_BROKEN,
                non_retryable=True,
            )
        wanted = migration.upload_size_bytes(source.size_bytes)
        if request.upload_size_bytes != wanted:
            raise refuse(
                vm,
                [
                    Refusal(
                        "M-3",
                        Reason.COPY_SIZE_MISMATCH,
                        f"disk {name} would hold {request.upload_size_bytes} bytes, but source disk {source.name} "
                        f"has {source.size_bytes} (+ 512 for the VHD footer = {wanted}).",
                        "Read the source VM again (it was resized since the plan) and run again.",
                    )
                ],
            )
        existing = await self._read_disk(target, f"VM {vm}")
        if existing is not None:
            refusals = migration.check_adopt_upload_disk(
                existing.as_existing_target(), request.migrated_from, existing.upload_size_bytes, wanted
            )
            if refusals:
                raise refuse(vm, refusals)
            if existing.provisioning_state.lower() not in ("", "succeeded"):
                existing = await await_with_heartbeat(self._settled(target, vm), f"waiting for disk {name}")
            log.info("adopting the Upload disk of an earlier attempt", disk=name, state=existing.disk_state)
            return UploadDiskResult(existing.disk_id, existing.disk_state, created=False)
        disks = self._clients.compute(target.subscription_id).disks
        try:
            log.info("creating the Upload disk", disk=name, upload_size_bytes=wanted)
            poller = await disks.begin_create_or_update(
                target.resource_group, target.name, Disk(request.body), polling=self._clients.lro_polling()
            )
            created = await await_with_heartbeat(poller.result(), f"creating Upload disk {name} for VM {vm}")
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"VM {vm}: creating Upload disk {name}") from exc
        facts = migration.parse_copy_disk(created.as_dict())
        return UploadDiskResult(facts.disk_id or request.target_disk_id, facts.disk_state, created=True)

    async def _settled(self, ref: ResourceId, vm: str) -> CopyDiskFacts:
        while True:
            disk = await self._read_disk(ref, f"VM {vm}")
            if disk is None or disk.provisioning_state.lower() in ("", "succeeded", "failed", "canceled"):
                if disk is None or disk.provisioning_state.lower() != "succeeded":
                    raise ApplicationError(
                        f"VM {vm}: disk {ref.name} ended {disk.provisioning_state if disk else 'deleted'}. "
                        f"Fix: delete disk {ref.name} and run again.",
                        type=Reason.PRECONDITION_BROKEN,
                        non_retryable=True,
                    )
                return disk
            await asyncio.sleep(self._clients.lro_poll_seconds)

    # -- the copy ----------------------------------------------------------------------------------------------------

    @activity.defn(name="copy_disk")
    async def copy_disk(self, request: DiskCopyRequest) -> DiskCopyResult:
        """Copy the source's written page ranges into the Upload disk, resuming from the heartbeated checkpoint,
        verify the copy, revoke both SAS (docs/ade-migration.md, the disk copy, steps 2-5)."""
        details = activity.info().heartbeat_details
        beat = CopyBeat(details)
        async with beat.ticking():
            source_ref = _ref(request.source_disk_id, "(of the copy)")
            target_ref = _ref(request.target_disk_id, "(of the copy)")
            context = f"copying disk {source_ref.name} to disk {target_ref.name}"
            source = await self._read_disk(source_ref, context)
            target = await self._read_disk(target_ref, context)
            vm = _vm_name(source, target)
            if source is None or target is None:
                missing = source_ref.name if source is None else target_ref.name
                raise ApplicationError(
                    f"VM {vm}: disk {missing} does not exist (M-3 disk copy). Fix: create the Upload disk first "
                    "(create_upload_disk) and check the source VM's disks.",
                    type=Reason.PRECONDITION_BROKEN,
                    non_retryable=True,
                )
            _check_request(request, vm)
            await self._check_copy(request, vm, source, target)
            checkpoint = migration.checkpoint_from_details(details, target.unique_id)
            beat.restart(target.unique_id, checkpoint or CopyCheckpoint())
            grants = SasGrants(self._clients, request.sas_duration_s, vm)
            source_sas = DiskSas(source, "Read")
            target_sas = DiskSas(target, "Write" if target.open_for_upload else "Read")
            try:
                result = await self._copy(request, vm, beat, grants, source_sas, target_sas, checkpoint)
            except BaseException as exc:
                final = isinstance(exc, ApplicationError) and exc.non_retryable
                ended = await self._revoke_quietly(grants, [source_sas, target_sas] if final else [source_sas])
                if isinstance(exc, ApplicationError) and target_sas in ended and target_sas.access == "Write":
                    raise _upload_ended(exc, target.name) from exc
                raise
            await grants.revoke(source_sas)
            await grants.revoke(target_sas)
            return replace(result, sas_windows=grants.windows, sas_renewals=grants.renewals)

    async def _copy(
        self,
        request: DiskCopyRequest,
        vm: str,
        beat: CopyBeat,
        grants: SasGrants,
        source: DiskSas,
        target: DiskSas,
        checkpoint: CopyCheckpoint | None,
    ) -> DiskCopyResult:
        limit = source.disk.size_bytes + VHD_FOOTER
        await grants.grant(source)
        await grants.grant(target)
        copied = checkpoint.bytes_copied if checkpoint else 0
        listing = await list_ranges(self._clients, grants, source, lambda: copied)
        allocated = migration.allocated_bytes(listing.ranges, limit)
        chunks = migration.plan_chunks(listing.ranges, limit, request.max_chunk_bytes)
        resumed_from = migration.done_bytes(chunks, checkpoint, limit)
        names = f"disk {source.disk.name} to disk {target.disk.name} for VM {vm}"
        if target.access == "Write":
            todo = migration.remaining_chunks(chunks, checkpoint, limit)
            tracker = migration.CopyTracker(todo, limit, request.checkpoint_bytes, checkpoint)
            log.info("copying written page ranges", source=source.disk.name, target=target.disk.name,
                     allocated=allocated, resumed_from=resumed_from, calls=len(todo))  # fmt: skip
            parallelism = max(1, min(request.parallelism, request.checkpoint_bytes // request.max_chunk_bytes))
            copier = PageCopier(
                self._clients,
                grants,
                source,
                target,
                tracker,
                todo,
                beat=beat,
                parallelism=parallelism,
                checkpoint_bytes=request.checkpoint_bytes,
                describe=lambda done: f"copying {names}: {done} bytes sent, {allocated} allocated",
                stall_s=self._stall_s,
            )
            await copier.run()
            copied = tracker.bytes_copied
        else:
            log.info("the target's upload has ended: verifying only", target=target.disk.name)
        beat.send(f"verifying the copy of {names}")
        verified = await list_ranges(self._clients, grants, target, lambda: copied)
        self._verify(vm, source, target, listing, verified)
        compared = sum(1 for d in migration.with_digests(listing.ranges, listing.digests) if d.digest)
        return DiskCopyResult(
            allocated_bytes=allocated,
            copied_bytes=copied,
            resumed_from_bytes=resumed_from,
            ranges=len(listing.ranges),
            checksums_compared=compared,
        )

    @staticmethod
    def _verify(vm: str, source: DiskSas, target: DiskSas, listing: Listing, verified: Listing) -> None:
        verdict = migration.verify_copy(
            source.disk.size_bytes,
            target.disk.size_bytes,
            migration.with_digests(listing.ranges, listing.digests),
            verified.ranges,
            verified.digests,
        )
        if not verdict.ok:
            raise ApplicationError(
                f"VM {vm}: the copy of disk {source.disk.name} to disk {target.disk.name} is not faithful (M-3): "
                f"{verdict.message} Fix: delete disk {target.disk.name} (a copy only; the source is untouched) and "
                "run the migration again.",
                type=verdict.reason or Reason.COPY_INCOMPLETE,
                non_retryable=True,
            )

    async def _check_copy(
        self, request: DiskCopyRequest, vm: str, source: CopyDiskFacts, target: CopyDiskFacts
    ) -> None:
        """M-7 (the source's VM deallocated), M-2 (the target an Upload disk of this migration), sizes as planned."""
        refusals: list[Refusal] = []
        if source.managed_by:
            refusals += migration.check_copy_source(source.name, await self._power_state(source.managed_by, vm))
        refusals += migration.check_upload_only(target.name, target.create_option, target.source_resource_id)
        owner = source.managed_by or target.migrated_from or "(no source VM)"
        refusals += migration.check_existing_target(target.as_existing_target(), owner)
        if source.size_bytes != request.source_size_bytes or (
            target.upload_size_bytes and target.upload_size_bytes != source.size_bytes + VHD_FOOTER
        ):
            refusals.append(
                Refusal(
                    "M-3",
                    Reason.COPY_SIZE_MISMATCH,
                    f"source disk {source.name} has {source.size_bytes} bytes (planned {request.source_size_bytes}); "
                    f"disk {target.name} was created for {target.upload_size_bytes or target.size_bytes}.",
                    f"Delete disk {target.name}, read the source VM again and run again.",
                )
            )
        if refusals:
            raise refuse(vm, refusals)

    async def _power_state(self, vm_id: str, vm: str) -> str:
        ref = _ref(vm_id, vm)
        machines = self._clients.compute(ref.subscription_id).virtual_machines
        try:
            found = await machines.get(ref.resource_group, ref.name, expand="instanceView")
        except ResourceNotFoundError:
            return "deallocated"  # the VM object is gone (NIC reuse): nothing runs on the disk
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"VM {vm}: reading VM {ref.name}") from exc
        props = found.as_dict().get("properties") or {}
        statuses = (props.get("instanceView") or {}).get("statuses") or []
        codes = [str(s.get("code") or "") for s in statuses if isinstance(s, dict)]
        return next((c for c in codes if c.startswith("PowerState/")), "")

    async def _read_disk(self, ref: ResourceId, context: str) -> CopyDiskFacts | None:
        """The disk, or None when it does not exist; ``context`` starts an error's message (the VM, or the copy)."""
        disks = self._clients.compute(ref.subscription_id).disks
        try:
            disk = await disks.get(ref.resource_group, ref.name)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"{context}: reading disk {ref.name}") from exc
        return migration.parse_copy_disk(disk.as_dict())

    @staticmethod
    async def _revoke_quietly(grants: SasGrants, sas: list[DiskSas]) -> list[DiskSas]:
        """On failure: end access (best effort, bounded); the copy's own error is the one to report. Returns the
        SAS revoked."""
        ended: list[DiskSas] = []
        for one in sas:
            if not one.url:
                continue
            try:
                async with asyncio.timeout(REVOKE_ON_FAILURE_S):
                    await grants.revoke(one)
                ended.append(one)
            except Exception as exc:  # the copy's own error is reported; this one is only logged
                log.warning("could not revoke a disk SAS after a failed copy", disk=one.disk.name, error=str(exc))
        return ended


def _upload_ended(exc: ApplicationError, target: str) -> ApplicationError:
    """A final failure ended the target's upload (no SAS may outlive a failed copy): it can never be written again,
    so the fix starts with deleting it (unless the message says so already)."""
    if f"delete disk {target}".lower() in exc.message.lower():
        return exc
    return ApplicationError(
        f"{exc.message} The upload of disk {target} was ended with its SAS revoked: delete disk {target} (a partial "
        "copy only) before the migration runs again.",
        type=exc.type,
        non_retryable=True,
    )


def _check_request(request: DiskCopyRequest, vm: str) -> None:
    """The copy's knobs, checked before anything is granted: a bad one would fail every retry the same way."""
    problems = []
    if request.sas_duration_s <= 0:
        problems.append(f"sas_duration_s must be positive (got {request.sas_duration_s})")
    if request.checkpoint_bytes <= 0:
        problems.append(f"checkpoint_bytes must be positive (got {request.checkpoint_bytes})")
    chunk = request.max_chunk_bytes
    if chunk <= 0 or chunk % migration.PAGE or chunk > migration.MAX_PUT_PAGE_BYTES:
        problems.append(f"max_chunk_bytes must be a multiple of 512 up to 4 MiB (got {chunk})")
    if problems:
        raise ApplicationError(
            f"VM {vm}: the disk copy request is invalid (M-3): {'; '.join(problems)}. Fix: correct the migration "
            "settings (sas_duration_s, checkpoint_bytes) and run again.",
            type=Reason.MIGRATION_INPUT_INVALID,
            non_retryable=True,
        )


def _vm_name(source: CopyDiskFacts | None, target: CopyDiskFacts | None) -> str:
    """The source VM's name, for messages: the VM the source disk is attached to, else the target's tag."""
    for owner in (source.managed_by if source else "", target.migrated_from if target else ""):
        if owner:
            return owner.rstrip("/").rsplit("/", 1)[-1]
    return "(unknown)"
