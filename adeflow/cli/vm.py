"""``adeflow vm check|encrypt|status|disable|remove-extension|create-from-vhd``: the single-VM verbs."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
from temporalio.client import Client

from adeflow.cli.tables import echo_table
from adeflow.client.azure_reads import read_vm_facts
from adeflow.client.preflight import evaluate
from adeflow.client.rollouts import ui_link
from adeflow.client.session import run_azure, run_temporal
from adeflow.client.vm_runs import (
    VmRun,
    disable_deadline_s,
    encrypt_deadline_s,
    start_create_from_vhd,
    start_disable,
    start_encrypt,
    start_remove_extension,
)
from adeflow.domain import rules, values, vhd
from adeflow.domain.model import (
    BackupPolicy,
    BackupWaiver,
    CreateFromVhdInput,
    DisableInput,
    EncryptVmInput,
    KeyEncryptionKey,
    RestartPolicy,
    VmRef,
)
from adeflow.domain.values import VaultObjectUrl
from adeflow.inputs.settings import Settings


def parse_vm(value: str) -> VmRef:
    """A VM as an ARM resource id, or ``<subscription>/<resource group>/<name>``; bad input exits 2."""
    try:
        if value.startswith("/"):
            return values.parse_vm_id(value)
        parts = value.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{value!r}: give a VM resource id or <subscription>/<resource-group>/<vm-name>")
        return VmRef(
            values.parse_subscription_id(parts[0]),
            values.parse_name_segment(parts[1], "a resource group name"),
            values.parse_name_segment(parts[2], "a VM name"),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="VM") from exc


class ValueType(click.ParamType[Any]):
    """An option parsed by a :mod:`adeflow.domain.values` validator: the manifest's verdict, and exit 2 if bad."""

    def __init__(self, name: str, parse: Callable[[str], object], metavar: str = "") -> None:
        self.name = name
        self._parse = parse
        self._metavar = metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default that is already a value
        try:
            return self._parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return self._metavar or None


VAULT_ID = ValueType("vault id", values.parse_vault_id, "RESOURCE_ID")
KEK_URL = ValueType("KEK URL", values.parse_kek_url, "URL")
VOLUME_TYPE = ValueType("volume type", values.parse_volume_type, "[OS|Data|All]")
BACKUP = ValueType("backup policy", values.parse_backup_policy, f"[{'|'.join(BackupPolicy)}]")
RESTART = ValueType("restart policy", values.parse_restart_policy, f"[{'|'.join(RestartPolicy)}]")
DURATION = ValueType("duration", lambda text: values.parse_duration(_number_or_text(text)), "DURATION")


def _number_or_text(text: str) -> float | str:
    """``300`` is seconds on the command line, as in a manifest; ``5m`` is parsed by the duration grammar."""
    try:
        return float(text)
    except ValueError:
        return text


def kek_option(url: VaultObjectUrl | None, vault_id: str | None, key_vault_id: str) -> KeyEncryptionKey | None:
    """``--kek-url`` with ``--kek-vault-id`` (default: the disk-encryption vault), one vault (R-ENA-3)."""
    if url is None:
        if vault_id:
            raise click.UsageError("--kek-vault-id needs --kek-url")
        return None
    vault = vault_id or key_vault_id
    label = "--kek-vault-id" if vault_id else "--key-vault-id (the KEK vault by default)"
    try:
        values.check_same_vault(url, vault, label)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    return KeyEncryptionKey(url.url, vault)


def poll_interval_option(deadline_s: float) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--poll-interval`` for every verb that waits on the extension (``vm encrypt``, ``vm disable``): a duration
    (the one validator of adeflow.domain.values), above 0 and below the run's deadline, as manifests require."""

    def within_deadline(ctx: click.Context, param: click.Parameter, value: float) -> float:
        if not 0 < value < deadline_s:
            raise click.BadParameter(f"{value:g} s: must be above 0 and below the run's deadline ({deadline_s:g} s)")
        return value

    return click.option(
        "--poll-interval",
        type=DURATION,
        default="300",
        show_default=True,
        callback=within_deadline,
        help="Between encryption status reads: seconds, or 30s, 5m, 1h (R-ENA-4; each is an ARM read, and passes "
        f"take hours); above 0 and below the run's deadline ({deadline_s:g} s).",
    )


def enable_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``vm check`` and ``vm encrypt`` (the same request, dry or for real)."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--key-vault-id", type=VAULT_ID, required=True, help="Disk-encryption Key Vault resource id (R-ENA-3)."
        ),
        click.option(
            "--volume-type", type=VOLUME_TYPE, help="All, OS or Data; required when the VM has data disks (R-ENA-3)."
        ),
        click.option("--kek-url", type=KEK_URL, help="Key-encryption key URL, versioned (R-ENA-3)."),
        click.option("--kek-vault-id", type=VAULT_ID, help="Vault of the KEK (default: the disk-encryption vault)."),
        click.option(
            "--backup",
            type=BACKUP,
            default=BackupPolicy.AUTO.value,
            show_default=True,
            help="R-BAK-2: auto = Azure Backup if protected, else snapshots.",
        ),
        click.option("--waiver-operator", default="", help="Who states a backup exists elsewhere (--backup waive)."),
        click.option("--waiver-statement", default="", help="Where that backup is (--backup waive)."),
        click.option(
            "--restart",
            type=RESTART,
            default=RestartPolicy.ASK.value,
            show_default=True,
            help="On VMRestartPending (R-ENA-2).",
        ),
        click.option("--encrypt-format-all", is_flag=True, help="EncryptFormatAll: FORMATS data disks (R-EFA-1)."),
        click.option("--acknowledge-data-loss", default="", help=f'Exactly: "{rules.FORMAT_ALL_ACKNOWLEDGEMENT}".'),
        click.option(
            "--confirm",
            "confirmations",
            multiple=True,
            type=click.Choice(sorted(rules.GUEST_CHECKS)),
            help="Guest-side check the operator vouches for (repeatable).",
        ),
        click.option("--allow-unlisted", is_flag=True, help="Override R-PRE-1 for images/sizes not in the matrix."),
        poll_interval_option(encrypt_deadline_s),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_request(vm: VmRef, **opts: Any) -> EncryptVmInput:
    kek = kek_option(opts["kek_url"], opts["kek_vault_id"], opts["key_vault_id"])
    waiver = None
    if opts["waiver_operator"] or opts["waiver_statement"]:
        waiver = BackupWaiver(opts["waiver_operator"], opts["waiver_statement"])
    return EncryptVmInput(
        vm=vm,
        key_vault_id=opts["key_vault_id"],
        volume_type=opts["volume_type"],
        kek=kek,
        backup_policy=opts["backup"],
        backup_waiver=waiver,
        restart_policy=opts["restart"],
        encrypt_format_all=opts["encrypt_format_all"],
        acknowledge_data_loss=opts["acknowledge_data_loss"],
        confirmations=list(opts["confirmations"]),
        allow_unlisted=opts["allow_unlisted"],
        poll_interval_s=opts["poll_interval"],
    )


@click.group()
def vm() -> None:
    """Single-VM verbs: check, encrypt, status, disable, remove-extension, create-from-vhd."""


@vm.command()
@click.argument("vm_ref", metavar="VM")
@enable_options
def check(vm_ref: str, **opts: Any) -> None:
    """Dry run: what an encrypt would do or why it is refused. Writes nothing. Exit 1 when refused."""
    request = build_request(parse_vm(vm_ref), **opts)
    report = run_azure(lambda clients: evaluate(clients, request), what=f"vm check {request.vm.name}")
    click.echo(report.render())
    sys.exit(0 if report.eligible else 1)


@vm.command()
@click.argument("vm_ref", metavar="VM")
@enable_options
@click.option("--wait/--no-wait", default=False, help="Wait for the outcome.")
def encrypt(vm_ref: str, wait: bool, **opts: Any) -> None:
    """Start EncryptVmWorkflow for one VM (a new data disk on an encrypted VM too: R-NEW-2)."""
    request = build_request(parse_vm(vm_ref), **opts)

    _follow(lambda client, settings: start_encrypt(client, settings, request), wait)


@vm.command()
@click.argument("vm_ref", metavar="VM")
def status(vm_ref: str) -> None:
    """The VM's ADE state as ARM reports it (like `az vm encryption show`)."""
    ref = parse_vm(vm_ref)
    facts = run_azure(lambda clients: read_vm_facts(clients, ref), what=f"vm status {ref.name}")
    ext = facts.ade_extension
    click.echo(f"{ref.name} ({facts.size}, {facts.location}, {facts.power_state or 'power state unknown'})")
    if ext is None:
        click.echo("  ADE extension: not installed")
    else:
        click.echo(
            f"  ADE extension {ext.type_handler_version} {ext.provisioning_state}: {ext.encryption_operation} "
            f"{ext.volume_type} (sequence {ext.sequence_version or '-'})"
        )
        if ext.status is not None:
            click.echo(f"  {ext.status.describe()}")
    rows = [
        (
            disk.name,
            "OS" if disk.is_os else f"data (LUN {disk.lun})",
            str(disk.size_gb),
            disk.storage_account_type or "-",
            "encrypted" if disk.instance_view_encrypted else "not encrypted",
        )
        for disk in facts.disks
    ]
    echo_table(("DISK", "ROLE", "SIZE (GB)", "SKU", "ADE (INSTANCE VIEW)"), rows, right={"SIZE (GB)"})


@vm.command()
@click.argument("vm_ref", metavar="VM")
@click.option("--keep-extension", is_flag=True, help="Disable only; do not remove the extension afterwards.")
@click.option("--backup", type=click.Choice([b.value for b in BackupPolicy]), default=BackupPolicy.AUTO.value)
@poll_interval_option(disable_deadline_s)
@click.option("--wait/--no-wait", default=False)
def disable(vm_ref: str, keep_extension: bool, backup: str, poll_interval: float, wait: bool) -> None:
    """Disable ADE on data volumes (refused while the OS volume is encrypted, R-DIS-3), then remove the extension."""
    ref = parse_vm(vm_ref)
    request = DisableInput(
        vm=ref, remove_extension=not keep_extension, backup_policy=BackupPolicy(backup), poll_interval_s=poll_interval
    )

    _follow(lambda client, settings: start_disable(client, settings, request), wait)


@vm.command(name="remove-extension")
@click.argument("vm_ref", metavar="VM")
@click.option(
    "--leave-encrypted",
    is_flag=True,
    help="Remove even though volumes stay encrypted: they remain encrypted with no extension managing them.",
)
@click.option("--wait/--no-wait", default=False)
def remove_extension(vm_ref: str, leave_encrypted: bool, wait: bool) -> None:
    """Remove the ADE extension; refused while anything is encrypted unless --leave-encrypted (R-DIS-2)."""
    ref = parse_vm(vm_ref)
    if leave_encrypted:
        click.echo(
            "warning: --leave-encrypted: encrypted volumes stay encrypted, and disabling later reinstalls the "
            "extension (R-DIS-2).",
            err=True,
        )

    _follow(lambda client, settings: start_remove_extension(client, settings, ref, leave_encrypted), wait)


@vm.command(name="create-from-vhd")
@click.argument("vm_ref", metavar="VM")
@click.option(
    "--os-disk-id",
    required=True,
    help="Managed disk imported from the encrypted VHD (az disk create --source <vhd-uri> --os-type Linux).",
)
@click.option("--secret-url", required=True, help="Disk-encryption key: the versioned Key Vault secret URL.")
@click.option(
    "--key-vault-id", type=VAULT_ID, required=True, help="Resource id of the vault holding that secret (R-PRE-2)."
)
@click.option("--nic-id", required=True, help="Resource id of the network interface for the new VM.")
@click.option("--size", default="Standard_D2s_v5", show_default=True, help="VM size.")
@click.option("--kek-url", type=KEK_URL, help="Key-encryption key URL, versioned, when the secret is wrapped by a KEK.")
@click.option("--kek-vault-id", type=VAULT_ID, help="Vault of the KEK (default: the secret's vault).")
@click.option("--location", default="", help="Region (default: the disk's).")
@click.option("--wait/--no-wait", default=False, help="Wait for the outcome.")
def create_from_vhd(vm_ref: str, wait: bool, **opts: Any) -> None:
    """Create a VM that attaches a customer-encrypted OS disk with its key references (R-VHD-1)."""
    ref = parse_vm(vm_ref)
    kek = kek_option(opts["kek_url"], opts["kek_vault_id"], opts["key_vault_id"])
    request = CreateFromVhdInput(
        vm=ref,
        os_disk_id=opts["os_disk_id"],
        secret_url=opts["secret_url"],
        key_vault_id=opts["key_vault_id"],
        network_interface_id=opts["nic_id"],
        size=opts["size"],
        kek=kek,
        location=opts["location"],
    )
    refusals = vhd.check_request(request)
    if refusals:  # bad input: exit 2, nothing started
        raise click.UsageError("\n".join(r.render(ref) for r in refusals))

    _follow(lambda client, settings: start_create_from_vhd(client, settings, request), wait)


def _follow(start: Callable[[Client, Settings], Awaitable[VmRun]], wait: bool) -> None:
    """Start the VM's run, or attach to the one in flight (say which), print its id and UI link; with ``wait``,
    its outcome (exit 1 when it failed or was refused)."""

    async def go(client: Client, settings: Settings) -> bool:
        run = await start(client, settings)
        if run.attached:
            click.echo(f"already running: attached to {run.workflow_id} (one run per VM; this request was not sent)")
        else:
            click.echo(f"started {run.workflow_id}")
        link = ui_link(settings.temporal.ui_url, settings.temporal.namespace, run.workflow_id)
        if link:
            click.echo(f"UI: {link}")
        if not wait:
            return True
        result = await run.result()
        click.echo(f"{result.outcome.value}: {result.message}")
        return not result.failed

    if not run_temporal(go):
        sys.exit(1)
