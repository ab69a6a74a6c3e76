"""Preflight as a dry run (``adeflow vm check``, ``adeflow rollout check``): the same reads and rules as the
workflow's preflight phase, run in-process with the same activity code, writing nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from activities.azure.clients import AzureClients
from activities.azure_backup import AzureBackupActivities
from activities.inventory import InventoryActivities
from activities.keyvault import KeyVaultActivities
from activities.policy import PolicyActivities
from adeflow.domain import rules
from adeflow.domain.model import BackupProtection, EncryptVmInput, ProtectionQuery, Refusal, VolumeType


@dataclass(frozen=True)
class PreflightReport:
    request: EncryptVmInput
    refusals: list[Refusal]
    volume_type: VolumeType | None = None
    reenable: bool = False
    unconfirmed: list[rules.GuestCheck] = field(default_factory=list)
    protection: BackupProtection | None = None
    format_all: rules.FormatAllPlan | None = None

    @property
    def eligible(self) -> bool:
        return not self.refusals

    def render(self) -> str:
        vm = self.request.vm
        if self.refusals:
            return "\n".join(["REFUSED " + vm.name, *("  " + r.render(vm) for r in self.refusals)])
        lines = [f"ELIGIBLE {vm.name}: volume type {self.volume_type.value if self.volume_type else '-'}"]
        if self.reenable:
            lines.append("  re-enable on an encrypted VM (R-NEW-2): a new sequence version covers new data disks")
        if self.protection is not None:
            lines.append(
                "  backup: Azure Backup to " + self.protection.vault_id.rsplit("/", 1)[-1]
                if self.protection.protected
                else "  backup: snapshots of every managed disk"
            )
        if self.format_all is not None:
            lines.append(f"  EncryptFormatAll will FORMAT: {', '.join(self.format_all.qualifying) or 'nothing'}")
            lines += [f"    left alone: {name} ({why})" for name, why in self.format_all.left_alone]
            lines.append(f"    {self.format_all.guest_side}")
        if self.unconfirmed:
            lines.append("  operator must confirm (only the guest can tell):")
            lines += [f"    [{c.rule}] {c.name}: {c.description}" for c in self.unconfirmed]
        return "\n".join(lines)


async def evaluate(clients: AzureClients, request: EncryptVmInput) -> PreflightReport:
    vm = request.vm
    facts, lookup, findings = await asyncio.gather(
        InventoryActivities(clients).read_vm_facts(vm),
        KeyVaultActivities(clients).read_key_vault(request.key_vault_id),
        PolicyActivities(clients).find_blocking_policies(vm.subscription_id),
    )
    if lookup.vault is None:
        return PreflightReport(
            request, [rules.key_vault_not_found(request.key_vault_id, lookup.problem, denied=lookup.denied)]
        )
    refusals = rules.preflight(request, facts, lookup.vault) + rules.check_policies(findings)
    if refusals:
        return PreflightReport(request, refusals)
    decision = rules.decide_volume_type(request.volume_type, facts)
    protection = await AzureBackupActivities(clients).find_backup_protection(ProtectionQuery(vm, facts.location))
    return PreflightReport(
        request,
        [],
        volume_type=decision.volume_type,
        reenable=decision.reenable,
        unconfirmed=rules.unconfirmed_guest_checks(request.confirmations),
        protection=protection,
        format_all=rules.plan_format_all(facts) if request.encrypt_format_all else None,
    )
