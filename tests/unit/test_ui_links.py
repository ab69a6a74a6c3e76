"""The CLI's Temporal UI links come from the server actually used (settings), never a hard-coded dev-server port."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from adeflow.cli.main import cli
from adeflow.client.rollouts import rollout_ui_link, ui_link
from adeflow.inputs.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("adeflow", "workflows", "activities", "worker")


@pytest.mark.parametrize(
    ("env", "ui"),
    [
        ({}, ""),  # a local frontend says nothing of where its UI is: no link rather than a wrong one
        ({"ADEFLOW_TEMPORAL_ADDRESS": "temporal:7233"}, ""),
        ({"ADEFLOW_TEMPORAL_UI": "http://localhost:8080/"}, "http://localhost:8080"),
        ({"ADEFLOW_TEMPORAL_ADDRESS": "ade.a1b2c.tmprl.cloud:7233"}, "https://cloud.temporal.io"),
        ({"ADEFLOW_TEMPORAL_ADDRESS": "us-east-1.aws.api.temporal.io:7233"}, "https://cloud.temporal.io"),
        (
            {"ADEFLOW_TEMPORAL_ADDRESS": "ade.a1b2c.tmprl.cloud:7233", "ADEFLOW_TEMPORAL_UI": "https://ui.corp"},
            "https://ui.corp",
        ),
    ],
)
def test_the_ui_comes_from_the_settings(env: dict[str, str], ui: str) -> None:
    assert Settings.from_env(env).temporal.ui_url == ui


def test_links_point_into_the_configured_ui_or_are_left_out() -> None:
    ui = Settings.from_env({"ADEFLOW_TEMPORAL_UI": "http://127.0.0.1:40123"}).temporal.ui_url
    assert ui_link(ui, "default", "encrypt/web-01/rg/sub") == (
        "http://127.0.0.1:40123/namespaces/default/workflows/encrypt%2Fweb-01%2Frg%2Fsub"
    )
    assert rollout_ui_link(ui, "ns", "demo-1") == "http://127.0.0.1:40123/namespaces/ns/workflows/rollout%2Fdemo-1"
    assert ui_link("", "default", "rollout/x") == ""


def test_no_product_code_hard_codes_the_dev_servers_ui_port() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b8233\b", line)
    ]
    assert found == [], f"a UI address guessed in code; use TemporalSettings.ui_url: {found}"


def test_the_codec_server_allows_only_the_configured_ui_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADEFLOW_TEMPORAL_UI", raising=False)
    monkeypatch.delenv("ADEFLOW_CONFIG_FILE", raising=False)
    done = CliRunner().invoke(cli, ["codec-server"], env={"ADEFLOW_CODEC_KEYS": ""})
    assert done.exit_code == 2
    assert "--ui-origin" in done.output and "ADEFLOW_TEMPORAL_UI" in done.output
