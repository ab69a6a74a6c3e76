"""One place that builds the async Azure SDK clients from settings.

The credential and endpoint come from :class:`adeflow.inputs.settings.AzureSettings`, so the very same activities run
against Azure (``DefaultAzureCredential``) or the ARM simulator (static token, simulator URL and CA).
"""

from __future__ import annotations

import contextlib
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.helpers import BasicAuth, get_env_proxy_for_url
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.rest import HttpRequest
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.keyvault.aio import KeyVaultManagementClient
from azure.mgmt.network.aio import NetworkManagementClient
from azure.mgmt.recoveryservicesbackup.aio import RecoveryServicesBackupClient
from azure.mgmt.resource.features.aio import FeatureClient
from azure.mgmt.resource.policy.aio import PolicyClient
from azure.mgmt.resource.resources.aio import ResourceManagementClient
from azure.mgmt.resourcegraph.aio import ResourceGraphClient
from azure.storage.blob.aio import BlobClient
from temporalio.common import MetricMeter
from yarl import URL

from activities.azure.arm_budget import ArmBudget, ArmBudgetPolicy, BudgetLimits
from activities.azure.arm_metrics import ArmMetricsPolicy
from activities.azure.arm_retry import BoundedArmPolling, BoundedRetryPolicy
from activities.azure.blob import BoundedBlobRetry
from activities.azure.credentials import AsyncStaticTokenCredential, describe_identity
from adeflow.inputs.settings import AzureSettings, credential_refusal


def arm_proxy(endpoint: str) -> tuple[URL | None, BasicAuth | None]:
    """The proxy (and its credentials) the environment names for ``endpoint``; (None, None) for a direct line."""
    with contextlib.suppress(LookupError):
        return get_env_proxy_for_url(URL(endpoint))
    return None, None


SUBSCRIPTIONS_API = "2022-12-01"
"""api-version of Microsoft.Resources' subscriptions list (the ``adeflow worker --check`` probe)."""


@dataclass(frozen=True)
class ArmProbe:
    """What the ``--check`` read found: whose token it sent (never the token) and what ARM answered."""

    identity: str
    subscriptions: int
    seconds: float


class AzureClients:
    """Caches one client per (service, subscription) for the life of the worker.

    All clients share one :class:`~activities.azure.arm_budget.ArmBudget` (``arm_budget``), so the worker as a
    whole stays under the subscription's ARM budgets.
    """

    def __init__(self, settings: AzureSettings, metric_meter: MetricMeter = MetricMeter.noop) -> None:
        """``metric_meter``: the worker runtime's, so ARM request counts join the SDK metrics on one endpoint."""
        problem = credential_refusal(settings)
        if problem:
            raise ValueError(problem)
        self._settings = settings
        self._credential: AsyncTokenCredential = (
            AsyncStaticTokenCredential(settings.static_token)
            if settings.static_token
            else DefaultAzureCredential(authority=settings.authority)
        )
        self._metric_meter = metric_meter
        self._compute: dict[str, ComputeManagementClient] = {}
        self._keyvault: dict[str, KeyVaultManagementClient] = {}
        self._backup: dict[str, RecoveryServicesBackupClient] = {}
        self._policy: dict[str, PolicyClient] = {}
        self._network: dict[str, NetworkManagementClient] = {}
        self._features: dict[str, FeatureClient] = {}
        self._resources: dict[str, ResourceManagementClient] = {}
        self._graph: ResourceGraphClient | None = None
        self._session: aiohttp.ClientSession | None = None
        # ARM request budget: one ArmBudget for every client of this worker (docs/original-design.md §5 invariant 8).
        self.arm_budget = ArmBudget(BudgetLimits.from_settings(settings))

    @property
    def lro_poll_seconds(self) -> float:
        return self._settings.lro_poll_seconds

    def lro_polling(self) -> BoundedArmPolling:
        """Polling for an LRO (a new one per operation): ARM's ``Retry-After``, at most ``lro_poll_seconds``."""
        return BoundedArmPolling(
            self._settings.lro_poll_seconds, path_format_arguments={"endpoint": self._settings.arm_endpoint}
        )

    def _http_session(self) -> aiohttp.ClientSession:
        """One HTTP session (connection pool) for every client, with one TLS context built once.

        Why: given a CA file as ``connection_verify``, azure-core builds a new ``SSLContext`` for every request,
        and aiohttp keys its pool by that context, so every ARM request paid a new TLS handshake; that was the
        worker's top hot spot (about 25 % of its CPU at 500 VM runs, BENCHMARKS.md). One pool shared by all
        clients also reuses connections across services. As azure-core's own session: no cookies, no
        decompression, and the proxy from the environment (HTTPS_PROXY/NO_PROXY), read once for the ARM endpoint
        (every client talks to that one host) rather than in a thread on every request as aiohttp's
        ``trust_env`` does (the next hot spot, with its netrc read).
        """
        if self._session is None or self._session.closed:
            context = ssl.create_default_context(cafile=self._settings.ca_file or None)
            proxy, proxy_auth = arm_proxy(self._settings.arm_endpoint)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context),
                proxy=proxy,
                proxy_auth=proxy_auth,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        return self._session

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self._settings.arm_endpoint,
            "session": self._http_session(),
            "session_owner": False,
            "polling_interval": self._settings.lro_poll_seconds,
            "credential_scopes": [self._settings.arm_scope],
            # Retries of one call end within ARM_CALL_BUDGET_S, inside any activity's start-to-close (issue 14).
            "retry_policy": BoundedRetryPolicy(),
            # Per retry, so every attempt (also the SDK's retries of a 429, and LRO polls) spends the budget;
            # a new policy per client, because azure-core chains a policy instance into one pipeline.
            "per_retry_policies": [ArmBudgetPolicy(self.arm_budget), ArmMetricsPolicy(self._metric_meter)],
        }

    def compute(self, subscription_id: str) -> ComputeManagementClient:
        client = self._compute.get(subscription_id)
        if client is None:
            client = ComputeManagementClient(self._credential, subscription_id, **self._client_options())
            self._compute[subscription_id] = client
        return client

    def keyvault(self, subscription_id: str) -> KeyVaultManagementClient:
        client = self._keyvault.get(subscription_id)
        if client is None:
            client = KeyVaultManagementClient(self._credential, subscription_id, **self._client_options())
            self._keyvault[subscription_id] = client
        return client

    def backup(self, subscription_id: str) -> RecoveryServicesBackupClient:
        client = self._backup.get(subscription_id)
        if client is None:
            client = RecoveryServicesBackupClient(self._credential, subscription_id, **self._client_options())
            self._backup[subscription_id] = client
        return client

    def policy(self, subscription_id: str) -> PolicyClient:
        client = self._policy.get(subscription_id)
        if client is None:
            client = PolicyClient(self._credential, subscription_id, **self._client_options())
            self._policy[subscription_id] = client
        return client

    def network(self, subscription_id: str) -> NetworkManagementClient:
        """NICs of migrated VMs (M-7)."""
        client = self._network.get(subscription_id)
        if client is None:
            client = NetworkManagementClient(self._credential, subscription_id, **self._client_options())
            self._network[subscription_id] = client
        return client

    def features(self, subscription_id: str) -> FeatureClient:
        """Subscription features: ``Microsoft.Compute/EncryptionAtHost`` (M-5)."""
        client = self._features.get(subscription_id)
        if client is None:
            client = FeatureClient(self._credential, subscription_id, **self._client_options())
            self._features[subscription_id] = client
        return client

    def resources(self, subscription_id: str) -> ResourceManagementClient:
        """Resource providers: re-registering ``Microsoft.Compute`` propagates a newly registered feature (M-5)."""
        client = self._resources.get(subscription_id)
        if client is None:
            client = ResourceManagementClient(self._credential, subscription_id, **self._client_options())
            self._resources[subscription_id] = client
        return client

    def resource_graph(self) -> ResourceGraphClient:
        """Tenant-wide (queries name their subscriptions), so one client; it has its own quota, not ARM's."""
        if self._graph is None:
            self._graph = ResourceGraphClient(self._credential, **self._client_options())
        return self._graph

    async def probe(self) -> ArmProbe:
        """One read with this worker's credential, TLS and proxy: list the subscriptions the identity sees.

        Listing subscriptions needs no RBAC action (ARM shows those the caller holds any role in), so it proves
        authentication without assuming a scope. One attempt, no SDK retries: a diagnostic should answer fast.
        Raises azure-core's ``ClientAuthenticationError`` (no token), ``HttpResponseError`` or
        ``ServiceRequestError``.
        """
        started = time.monotonic()
        token = await self._credential.get_token(self._settings.arm_scope)
        request = HttpRequest("GET", "/subscriptions", params={"api-version": SUBSCRIPTIONS_API})
        # The tenant-level client's pipeline (credential scope, budget, metrics); the SDK's raw-request helper.
        response = await self.resource_graph()._send_request(request, retry_total=0)
        response.raise_for_status()
        listed = response.json().get("value", [])
        return ArmProbe(describe_identity(self._credential, token.token), len(listed), time.monotonic() - started)

    def blob(self, sas_url: str) -> BlobClient:
        """A page-blob client on a disk's SAS URL (the query is the credential: no bearer token, no ARM budget).

        On the ARM clients' session, so one TLS trust (the CA file) and one connection pool serve both; its proxy is
        the one the environment names for the ARM endpoint. The caller closes the client (``async with``): that
        leaves the shared session open. Retries follow ``Retry-After`` within a bound (``activities/azure/blob.py``).
        """
        return BlobClient.from_blob_url(
            sas_url, session=self._http_session(), session_owner=False, retry_policy=BoundedBlobRetry()
        )

    async def close(self) -> None:
        if self._graph is not None:
            await self._graph.close()
            self._graph = None
        caches: tuple[dict[str, Any], ...] = (
            self._compute,
            self._keyvault,
            self._backup,
            self._policy,
            self._network,
            self._features,
            self._resources,
        )
        for cache in caches:
            for client in cache.values():
                await client.close()
            cache.clear()
        await self._credential.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
