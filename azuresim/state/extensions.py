"""VM extension writes (VirtualMachineExtensions_CreateOrUpdate / _Delete), the ADE extension's included.

A PUT of the ADE extension hands its settings to the VM's guest-side handler (:class:`azuresim.state.ade.AdeState`),
which decides the LRO's length and outcome; other extensions just take ``stamp_seconds``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azuresim.errors import ArmError
from azuresim.faults import DEFAULT_EXTENSION_ERROR
from azuresim.state.compute import EXTENSION_DELETE_SECONDS, Extension, VirtualMachine
from azuresim.state.operations import WriteResult

if TYPE_CHECKING:
    from azuresim.state.world import SimState


def put_extension(
    state: SimState, sub: str, rg: str, vm_name: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[WriteResult, VirtualMachine, Extension]:
    """VirtualMachineExtensions_CreateOrUpdate: 201 when new, 200 when it exists (never 202)."""
    vm = state.vm(sub, rg, vm_name)
    vm.live_extensions(now)
    if vm.deallocated(now):
        raise ArmError(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.")
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
    existing = vm.extensions.get(name.lower())
    if existing is not None and existing.delete_operation is not None:
        raise ArmError(
            409, "OperationNotAllowed", f"Extension '{name}' is being deleted; retry after the delete completes."
        )
    fresh = existing is None
    publisher = props.get("publisher") or (existing.publisher if existing else None)
    ext_type = props.get("type") or (existing.type if existing else None)
    version = props.get("typeHandlerVersion") or (existing.type_handler_version if existing else None)
    for key, value in (("publisher", publisher), ("type", ext_type), ("typeHandlerVersion", version)):
        if not isinstance(value, str) or not value:
            raise ArmError(400, "InvalidParameter", f"Required parameter '{key}' is missing (null).")
    assert isinstance(publisher, str) and isinstance(ext_type, str) and isinstance(version, str)
    if existing is not None and (
        existing.publisher.lower() != publisher.lower() or existing.type.lower() != ext_type.lower()
    ):
        raise ArmError(400, "PropertyChangeNotAllowed", "Changing property 'publisher' or 'type' is not allowed.")
    settings = props.get("settings") or {}
    if not isinstance(settings, dict):
        raise ArmError(400, "InvalidParameter", "The value of parameter 'settings' is invalid.")
    force_tag = props.get("forceUpdateTag")
    ext = existing or Extension(
        name=name, location=vm.location, publisher=publisher, type=ext_type, type_handler_version=version
    )
    previous = (ext.settings, ext.force_update_tag, ext.type_handler_version)
    ext.publisher, ext.type, ext.type_handler_version = publisher, ext_type, version
    ext.location = str(body.get("location") or ext.location)
    if "autoUpgradeMinorVersion" in props:
        ext.auto_upgrade_minor_version = bool(props["autoUpgradeMinorVersion"])
    ext.enable_automatic_upgrade = props.get("enableAutomaticUpgrade", ext.enable_automatic_upgrade)
    ext.suppress_failures = props.get("suppressFailures", ext.suppress_failures)
    if isinstance(body.get("tags"), dict):
        ext.tags = {str(k): str(v) for k, v in body["tags"].items()}
    ext.settings = copy.deepcopy(settings)
    ext.force_update_tag = force_tag

    if ext.is_ade:
        vault_problem = None
        kv_id = settings.get("KeyVaultResourceId")
        if isinstance(kv_id, str) and kv_id:
            kv = state.vault_by_id(kv_id)
            if kv is None:
                vault_problem = f"The key vault '{kv_id}' could not be found."
            elif not kv.enabled_for_disk_encryption:
                vault_problem = f"KeyVault '{kv.name}' is not enabled for disk encryption."
        injected = (
            state.faults.take("extension_failure", vm.name)
            if str(settings.get("EncryptionOperation", "")).startswith("EnableEncryption")
            else None
        )
        if injected is not None:
            outcome = vm.ade.inject_failure(
                settings,
                now,
                injected.fault.code or "100",
                injected.fault.message or DEFAULT_EXTENSION_ERROR,
                ext.name,
            )
        else:
            outcome = vm.ade.put(
                settings,
                now,
                fresh=fresh,
                ext_name=ext.name,
                vault_problem=vault_problem,
                force_update_tag=force_tag,
            )
        changed, seconds, error = outcome.changed, outcome.lro_seconds, outcome.error
    else:
        changed = fresh or previous != (ext.settings, ext.force_update_tag, ext.type_handler_version)
        seconds, error = state.rates.stamp_seconds, None

    if changed:
        op = state.new_operation(vm.subscription_id, vm.location, now, seconds, error)
        ext.operation = op
        ext.creating = fresh
    elif ext.operation is not None and not ext.operation.finished(now):
        op = ext.operation
    else:
        op = state.new_operation(vm.subscription_id, vm.location, now, 0.0)
    vm.extensions[name.lower()] = ext
    return WriteResult(201 if fresh else 200, op), vm, ext


def delete_extension(state: SimState, sub: str, rg: str, vm_name: str, name: str, now: datetime) -> WriteResult:
    vm = state.vm(sub, rg, vm_name)
    vm.live_extensions(now)
    ext = vm.extensions.get(name.lower())
    if ext is None:
        return WriteResult(204)
    if ext.delete_operation is None:
        ext.delete_operation = state.new_operation(vm.subscription_id, vm.location, now, EXTENSION_DELETE_SECONDS)
    return WriteResult(202, ext.delete_operation)
