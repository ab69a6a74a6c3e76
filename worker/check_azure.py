"""``adeflow worker --check``, Azure side: one read from ARM with the worker's own credential, and whose it was.

A worker whose identity cannot get a token, or whose token ARM refuses, starts and polls happily; its first
rollout then fails VM by VM. The check makes the same kind of call the activities make (same credential, scope,
TLS trust, proxy and pipeline) and names the identity that answered (credential type, tenant, client and object
ids), never the token.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from activities.azure.clients import AzureClients
from adeflow.inputs.settings import AzureSettings
from worker.finding import Finding

IDENTITY_FIX = (
    "give the worker an identity DefaultAzureCredential finds (README 'Azure identity'): a managed identity, "
    "workload identity, or AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET/AZURE_CLIENT_CERTIFICATE_PATH"
)
REACH_FIX = "check ADEFLOW_ARM_ENDPOINT, ADEFLOW_ARM_CA_FILE and HTTPS_PROXY/NO_PROXY"


def _brief(text: str, limit: int = 400) -> str:
    """azure-identity's chain errors span many lines: one line, bounded."""
    flat = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


async def check_azure(settings: AzureSettings, out: Callable[[str], None]) -> int:
    """Print one line per check of ARM; the number of problems found (0 or 1)."""
    mode = f"DefaultAzureCredential, scope {settings.arm_scope}"
    if settings.static_token:
        mode = "ADEFLOW_ARM_STATIC_TOKEN"
    out(f"Checking Azure Resource Manager at {settings.arm_endpoint} ({mode})")
    clients = AzureClients(settings)
    try:
        probe = await clients.probe()
    except ClientAuthenticationError as exc:
        reason = f"no token for {settings.arm_scope}: {_brief(exc.message)}"
        finding = Finding(False, "identity", reason, (IDENTITY_FIX,))
    except HttpResponseError as exc:
        fix = (IDENTITY_FIX,) if exc.status_code in (401, 403) else ()
        reason = _brief(exc.message or str(exc))
        finding = Finding(False, "ARM read", f"GET /subscriptions answered {exc.status_code}: {reason}", fix)
    except ServiceRequestError as exc:
        finding = Finding(False, "ARM read", f"cannot reach {settings.arm_endpoint}: {_brief(str(exc))}", (REACH_FIX,))
    else:
        out(Finding(True, "identity", probe.identity).render())
        seen = f"{probe.subscriptions} subscription(s) visible to this identity"
        if not probe.subscriptions:
            seen += " (assign it the adeflow role on the fleet's subscriptions: README 'Least-privilege role')"
        finding = Finding(True, "ARM read", f"GET /subscriptions answered in {probe.seconds:.2f} s: {seen}")
    finally:
        await clients.close()
    out(finding.render())
    return 0 if finding.ok else 1
