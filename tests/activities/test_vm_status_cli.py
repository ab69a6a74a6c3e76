"""``adeflow vm status`` against the simulator: the VM's disks as a table (issue 15), plain in a pipe."""

from __future__ import annotations

from click.testing import CliRunner

from adeflow.cli.main import cli
from tests.support.fleets import SUB, fleet_dict, vm
from tests.support.servers import SimFactory


def test_vm_status_lists_each_disk_with_its_role_size_sku_and_ade_state(make_sim: SimFactory) -> None:
    sim = make_sim(fleet_dict([vm("app-01", data_disks=[{"lun": 0, "size_gb": 16, "sku": "Premium_LRS"}])]))
    env = {
        "ADEFLOW_ARM_ENDPOINT": sim.base_url,
        "ADEFLOW_ARM_CA_FILE": str(sim.ca_path),
        "ADEFLOW_ARM_STATIC_TOKEN": "sim-token",
    }
    result = CliRunner().invoke(cli, ["vm", "status", f"{SUB}/rg-web/app-01"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("app-01 (Standard_D4s_v5, ")
    assert "  ADE extension: not installed" in lines
    table = [line.split("  ") for line in lines[lines.index(next(x for x in lines if x.startswith("DISK"))) :]]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in table]
    assert cells[0] == ["DISK", "ROLE", "SIZE (GB)", "SKU", "ADE (INSTANCE VIEW)"]
    assert cells[1][:2] == ["app-01-osdisk", "OS"] and cells[1][-1] == "not encrypted"
    assert cells[2] == ["app-01-datadisk-0", "data (LUN 0)", "16", "Premium_LRS", "not encrypted"]
    assert "\x1b" not in result.output and "─" not in result.output  # a pipe: no ANSI codes, no box drawing
