"""The campaign sample (examples/campaign-fleet.yaml and examples/campaign-<kind>.yaml) as simulator fleet and
campaign input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from adeflow.domain.campaign_plan.payloads import CampaignInput
from adeflow.inputs.campaign_file import load_campaign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def campaign_fleet() -> dict[str, Any]:
    fleet: dict[str, Any] = yaml.safe_load((EXAMPLES / "campaign-fleet.yaml").read_text())
    return fleet


def campaign(kind: str, report_dir: Path) -> CampaignInput:
    return replace(load_campaign(EXAMPLES / f"campaign-{kind}.yaml").to_input(), report_dir=str(report_dir))
