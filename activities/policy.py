"""Azure Policy assignments that stop ADE from creating its Key Vault secret (R-LIM-4y)."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError
from temporalio import activity

from activities.azure.clients import AzureClients
from activities.azure.errors import classify_arm_error
from adeflow.domain.model import PolicyFinding
from adeflow.domain.rules import SECRET_POLICY_DEFINITIONS


class PolicyActivities:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    @activity.defn(name="find_blocking_policies")
    async def find_blocking_policies(self, subscription_id: str) -> list[PolicyFinding]:
        """Assignments in scope of the subscription that reference the secret-validity built-ins (any effect).

        Whether the effect blocks is decided by ``rules.check_policies``; this only reads.
        """
        client = self._clients.policy(subscription_id)
        findings: list[PolicyFinding] = []
        try:
            async for assignment in client.policy_assignments.list(filter="atScope()"):
                body: dict[str, Any] = assignment.as_dict()
                props = body.get("properties") or {}
                definition = str(props.get("policyDefinitionId") or "")
                if definition.rsplit("/", 1)[-1].lower() not in SECRET_POLICY_DEFINITIONS:
                    continue
                effect = ((props.get("parameters") or {}).get("effect") or {}).get("value") or "Audit"
                findings.append(PolicyFinding(str(body.get("id") or ""), definition, str(effect)))
        except HttpResponseError as exc:
            raise classify_arm_error(exc, f"reading policy assignments of subscription {subscription_id}") from exc
        return findings
