"""The data-safety checker's migration invariants (tests/support/data_safety.py) catch what they must, on made-up
request logs: a read SAS of a running source's disk (M-7), a source deleted before the new VM was verified and the
cleanup approved (M-8), the source VM object deleted for NIC reuse without the downtime approval (M-7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from azuresim.requestlog import RequestRecord
from tests.support.data_safety import MigratedVm, migration_violations

pytestmark = pytest.mark.migration

T0 = datetime(2027, 3, 1, tzinfo=UTC)
RG = "/subscriptions/s/resourceGroups/rg/providers"
VM = f"{RG}/Microsoft.Compute/virtualMachines"
DISK = f"{RG}/Microsoft.Compute/disks"


def log(*calls: tuple[str, str, str, int]) -> list[RequestRecord]:
    """(method, operation, path, status), one second apart from T0."""
    return [
        RequestRecord(i + 1, method, path, operation, status, None, T0, T0 + timedelta(seconds=i))
        for i, (method, operation, path, status) in enumerate(calls)
    ]


DEALLOCATE = ("POST", "VirtualMachines_Deallocate", f"{VM}/web-01/deallocate", 202)
START = ("POST", "VirtualMachines_Start", f"{VM}/web-01/start", 202)
READ_SAS = ("POST", "Disks_GrantAccess", f"{DISK}/web-01-osdisk/beginGetAccess", 202)
CREATE_NEW = ("PUT", "VirtualMachines_CreateOrUpdate", f"{VM}/web-01-eah", 201)
READ_NEW = ("GET", "VirtualMachines_Get", f"{VM}/web-01-eah", 200)
DELETE_SOURCE = ("DELETE", "VirtualMachines_Delete", f"{VM}/web-01", 202)
DELETE_DISK = ("DELETE", "Disks_Delete", f"{DISK}/web-01-osdisk", 202)


def source(**kw: object) -> dict[str, MigratedVm]:
    return {"web-01": MigratedVm("web-01-eah", ["web-01-osdisk"], ["web-01-nic"], **kw)}  # type: ignore[arg-type]


def test_m7_a_read_sas_only_on_a_deallocated_source_even_one_arm_refused() -> None:
    assert migration_violations(log(DEALLOCATE, READ_SAS), source()) == []
    running = migration_violations(log(READ_SAS), source())
    assert len(running) == 1 and "M-7" in running[0] and "web-01-osdisk" in running[0]
    refused = ("POST", "Disks_GrantAccess", f"{DISK}/web-01-osdisk/beginGetAccess", 409)
    assert migration_violations(log(DEALLOCATE, START, refused), source())  # started again since


def test_m8_source_deleted_only_after_the_new_vm_was_read_back_and_the_cleanup_sent() -> None:
    safe = log(CREATE_NEW, READ_NEW, DELETE_SOURCE, DELETE_DISK)
    assert migration_violations(safe, source(cleanup_sent_at=T0)) == []
    assert len(migration_violations(safe, source())) == 2  # no cleanup approval sent
    late = T0 + timedelta(seconds=3)  # sent after the VM delete, before the disk delete
    assert len(migration_violations(safe, source(cleanup_sent_at=late))) == 1
    unverified = log(CREATE_NEW, DELETE_DISK)
    assert "M-8" in migration_violations(unverified, source(cleanup_sent_at=T0))[0]


def test_m7_nic_reuse_deletes_the_vm_object_under_the_downtime_approval_of_a_deallocated_source() -> None:
    assert migration_violations(log(DEALLOCATE, DELETE_SOURCE), source(nic_reuse=True, downtime_sent_at=T0)) == []
    assert migration_violations(log(DEALLOCATE, DELETE_SOURCE), source(nic_reuse=True))
    assert migration_violations(log(DELETE_SOURCE), source(nic_reuse=True, downtime_sent_at=T0))
    # The object, not the disks: a disk delete still needs the cleanup approval.
    assert migration_violations(log(DEALLOCATE, DELETE_DISK), source(nic_reuse=True, downtime_sent_at=T0))
