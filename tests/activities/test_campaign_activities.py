"""The campaign's notification activities: the report files, and the webhook POST (URL given, or named by env)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.azure.clients import AzureClients
from activities.campaign import CampaignActivities
from adeflow.domain.campaign_plan.payloads import CampaignKind, CampaignReport, CampaignResult, WebhookRequest
from adeflow.inputs.settings import AzureSettings

pytestmark = pytest.mark.campaign

RESULT = CampaignResult(
    name="nightly",
    kind=CampaignKind.AUDIT,
    run="nightly-20261201T020000Z",
    action_time=datetime(2026, 12, 1, 2, tzinfo=UTC).isoformat(),
    total=0,
    actions={},
    states={},
    retirement={},
)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def post(request: web.Request) -> web.Response:
        received.append({"body": await request.json(), "key": request.headers.get("Idempotency-Key")})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", post)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_the_report_is_written_whole_and_a_retry_rewrites_the_same_files(tmp_path: Path) -> None:
    activities = CampaignActivities(AzureClients(AzureSettings(arm_endpoint="https://127.0.0.1:9", static_token="t")))
    report = CampaignReport(RESULT, [], report_dir=str(tmp_path / "reports"))
    first = await ActivityEnvironment().run(activities.write_campaign_report, report)
    again = await ActivityEnvironment().run(activities.write_campaign_report, report)
    assert first == again and [Path(p).suffix for p in first.paths] == [".json", ".csv", ".md"]
    assert json.loads(Path(first.paths[0]).read_text())["run"] == RESULT.run
    assert not list((tmp_path / "reports").glob("*.tmp"))


async def test_the_webhook_gets_the_summary_once_per_run(
    hook: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = hook
    activities = CampaignActivities(AzureClients(AzureSettings(arm_endpoint="https://127.0.0.1:9", static_token="t")))
    assert (
        await ActivityEnvironment().run(activities.post_campaign_webhook, WebhookRequest(url, RESULT)) == "sent (204)"
    )
    monkeypatch.setenv("ADEFLOW_TEST_HOOK", url)
    await ActivityEnvironment().run(activities.post_campaign_webhook, WebhookRequest("env:ADEFLOW_TEST_HOOK", RESULT))
    assert [r["key"] for r in received] == [RESULT.run, RESULT.run]  # the receiver can drop a retried delivery
    assert received[0]["body"]["campaign"] == "nightly" and received[0]["body"]["retirement"]["days_left"] > 0
    monkeypatch.delenv("ADEFLOW_TEST_HOOK")
    with pytest.raises(ApplicationError, match="not set on the worker"):
        await ActivityEnvironment().run(
            activities.post_campaign_webhook, WebhookRequest("env:ADEFLOW_TEST_HOOK", RESULT)
        )
