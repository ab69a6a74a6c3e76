"""The TLS server around the ARM app: in a background thread for tests, or in the caller's loop for the CLI.

The Azure SDK refuses to send bearer tokens over plain HTTP, so the simulator serves HTTPS with a
throw-away CA made by ``trustme``; clients pass ``connection_verify=<ca_path>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import structlog
import trustme
from aiohttp import web

from azuresim.app import ArmApp
from azuresim.clock import SimClock
from azuresim.faults import ActiveFault, Fault, FaultPlan
from azuresim.fleet import FleetSpec
from azuresim.requestlog import RequestLog, RequestRecord
from azuresim.state.world import SimState
from azuresim.throttling import BucketSpec, Throttler, ThrottlingSpec

log = structlog.get_logger()


class SimServer:
    """An ARM simulator serving one fleet; see the package README/brief for the contract."""

    def __init__(
        self,
        fleet: FleetSpec,
        *,
        clock: SimClock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
        faults: FaultPlan | None = None,
        tls_names: tuple[str, ...] = (),
    ) -> None:
        """``tls_names``: extra DNS names for the certificate, e.g. the simulator's service name in compose."""
        self.fleet = fleet
        self._tls_names = tls_names
        self.clock = clock if clock is not None else SimClock(scale=fleet.sim.scale)
        self.host = host
        self._requested_port = port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="azuresim-")
            state_dir = Path(self._tmp.name)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.state = SimState(fleet, self.clock, faults)
        self.request_log = RequestLog()
        self.throttler = Throttler(fleet.sim.throttling)
        self.app = ArmApp(self.state, self.request_log, self.throttler)
        self.ca_path = state_dir / "azuresim-ca.pem"
        self._ssl = self._make_tls()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _make_tls(self) -> ssl.SSLContext:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1", *self._tls_names)
        ca.cert_pem.write_to_path(str(self.ca_path))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        return ctx

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start listening in the running event loop."""
        runner = web.AppRunner(self.app.build(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, ssl_context=self._ssl)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        log.info("azuresim.listening", base_url=self.base_url, ca_file=str(self.ca_path))

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def serve_forever(self) -> None:
        """For the CLI: start, then serve until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    def start_in_thread(self) -> None:
        """Serve from a daemon thread with its own loop; returns once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.close())
                loop.close()

        self._thread = threading.Thread(target=run, name="azuresim", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            self._thread = None
            raise errors[0]

    def stop(self) -> None:
        """Stop the thread started by :meth:`start_in_thread` and remove the temporary cert directory."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None
        self._loop = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------------------------------ inspection

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def requests(self) -> list[RequestRecord]:
        """A copy of the ARM request log (control requests under ``/_sim/`` are not recorded)."""
        return self.request_log.records()

    def writes_for(self, resource_name_fragment: str) -> list[RequestRecord]:
        """Non-GET ARM requests whose path contains the fragment (case-insensitive)."""
        fragment = resource_name_fragment.lower()
        return [r for r in self.requests() if r.method != "GET" and fragment in r.path.lower()]

    # ------------------------------------------------------------------------------------------ faults, throttling

    def inject(self, fault: Fault | dict[str, Any]) -> str:
        """Activate a fault (a :class:`Fault` or its dict form); returns its id (``fault-<n>``)."""
        model = fault if isinstance(fault, Fault) else Fault.model_validate(fault)
        return self.state.inject(model).id

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def faults(self) -> list[ActiveFault]:
        """The faults still active (not expired)."""
        return self.state.faults.list()

    def set_throttling(
        self,
        spec: ThrottlingSpec | None = None,
        *,
        enabled: bool | None = None,
        reads: BucketSpec | dict[str, float] | None = None,
        writes: BucketSpec | dict[str, float] | None = None,
        deletes: BucketSpec | dict[str, float] | None = None,
        vm_updates: BucketSpec | dict[str, float] | None = None,
        vm_updates_subscription: BucketSpec | dict[str, float] | None = None,
    ) -> ThrottlingSpec:
        """Replace the throttling budgets (all buckets start full again); unnamed budgets keep their values."""
        merged: dict[str, Any] = (spec or self.throttler.spec).model_dump(exclude_none=True)
        changes = {
            "enabled": enabled,
            "reads": reads,
            "writes": writes,
            "deletes": deletes,
            "vm_updates": vm_updates,
            "vm_updates_subscription": vm_updates_subscription,
        }
        for key, value in changes.items():
            if value is not None:
                merged[key] = value.model_dump(exclude_none=True) if isinstance(value, BucketSpec) else value
        new = ThrottlingSpec.model_validate(merged)
        self.throttler.configure(new)
        return new
