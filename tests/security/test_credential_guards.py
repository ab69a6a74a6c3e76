"""The two credential modes stay apart: no static token for Azure's ARM, no identity token for anything else."""

from __future__ import annotations

import base64
import json
import re

import pytest
from azure.identity.aio import ChainedTokenCredential

from activities.azure.clients import AzureClients
from activities.azure.credentials import AsyncStaticTokenCredential, describe_identity, token_claims
from adeflow.inputs.settings import AzureSettings, Settings, is_azure_arm

pytestmark = [pytest.mark.unit, pytest.mark.security]

AZURE_ARM = [
    "https://management.azure.com",
    "https://MANAGEMENT.AZURE.COM/",
    "https://eastus.management.azure.com",
    "https://management.usgovcloudapi.net",
    "https://management.chinacloudapi.cn",
    "https://management.microsoftazure.de",
]
NOT_AZURE_ARM = [
    "https://127.0.0.1:8443",
    "https://sim:8443",
    "https://management.azure.com.evil.example",
    "https://evilmanagement.azure.com",
    "https://management.local.azurestack.external",
]


@pytest.mark.parametrize("endpoint", AZURE_ARM)
def test_a_static_token_for_azure_arm_is_refused(endpoint: str) -> None:
    assert is_azure_arm(endpoint)
    env = {"ADEFLOW_ARM_ENDPOINT": endpoint, "ADEFLOW_ARM_STATIC_TOKEN": "eyJ0eXAiOiJKV1Qi.pasted.token"}
    with pytest.raises(ValueError, match="ADEFLOW_ARM_STATIC_TOKEN is set and ADEFLOW_ARM_ENDPOINT=") as raised:
        Settings.from_env(env)
    assert "pasted" not in str(raised.value)
    with pytest.raises(ValueError, match="a static token is for the ARM simulator"):
        AzureClients(AzureSettings(arm_endpoint=endpoint.rstrip("/"), static_token="t"))  # also when built directly


def test_a_static_token_without_an_endpoint_would_go_to_azure_and_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("ADEFLOW_ARM_ENDPOINT=https://management.azure.com is Azure")):
        Settings.from_env({"ADEFLOW_ARM_STATIC_TOKEN": "sim"})
    with pytest.raises(ValueError, match=re.escape("management.usgovcloudapi.net is Azure")):
        Settings.from_env({"ADEFLOW_ARM_STATIC_TOKEN": "sim", "ADEFLOW_AZURE_CLOUD": "AzureUSGovernment"})


@pytest.mark.parametrize("endpoint", NOT_AZURE_ARM)
def test_an_identity_token_never_goes_to_another_endpoint_unless_the_scope_is_set(endpoint: str) -> None:
    assert not is_azure_arm(endpoint)
    with pytest.raises(ValueError, match=re.escape(f"ADEFLOW_ARM_ENDPOINT={endpoint} is not Azure Resource Manager")):
        Settings.from_env({"ADEFLOW_ARM_ENDPOINT": endpoint})
    with pytest.raises(ValueError, match="set ADEFLOW_ARM_SCOPE explicitly"):
        AzureClients(AzureSettings(arm_endpoint=endpoint))
    explicit = Settings.from_env({"ADEFLOW_ARM_ENDPOINT": endpoint, "ADEFLOW_ARM_SCOPE": f"{endpoint}/.default"})
    assert explicit.azure.arm_scope_set and explicit.azure.arm_endpoint == endpoint
    simulator = Settings.from_env({"ADEFLOW_ARM_ENDPOINT": endpoint, "ADEFLOW_ARM_STATIC_TOKEN": "sim"})
    assert simulator.azure.static_token == "sim"


@pytest.mark.parametrize("cloud", ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"])
def test_each_cloud_with_its_identity_is_fine(cloud: str) -> None:
    azure = Settings.from_env({"ADEFLOW_AZURE_CLOUD": cloud}).azure
    assert is_azure_arm(azure.arm_endpoint) and not azure.static_token and not azure.arm_scope_set


def jwt(claims: dict[str, str]) -> str:
    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


CLAIMS = {"tid": "tenant-1", "azp": "client-2", "oid": "object-3", "upn": "ops@example.com"}


def test_the_identity_is_described_from_the_tokens_claims_never_with_the_token() -> None:
    token = jwt(CLAIMS)
    assert token_claims(token) == CLAIMS and token_claims("sim-token") == {} and token_claims("a.b!.c") == {}
    text = describe_identity(AsyncStaticTokenCredential(token), token)
    assert text == (
        "a static token (ADEFLOW_ARM_STATIC_TOKEN) (tenant tenant-1, client client-2, object object-3, "
        "user ops@example.com)"
    )
    assert token not in text and "c2lnbmF0dXJl" not in text


async def test_a_chained_credential_names_the_link_that_answered() -> None:
    """DefaultAzureCredential is a ChainedTokenCredential: the check names the credential inside it that worked."""
    token = jwt({"tid": "tenant-1", "appid": "client-9"})
    chain = ChainedTokenCredential(AsyncStaticTokenCredential(token))
    answered = await chain.get_token("https://management.azure.com/.default")
    text = describe_identity(chain, answered.token)
    assert text == "AsyncStaticTokenCredential via ChainedTokenCredential (tenant tenant-1, client client-9)"
    await chain.close()
