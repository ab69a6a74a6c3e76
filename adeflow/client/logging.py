"""structlog set-up: readable console lines in a terminal, JSON lines elsewhere (containers, log shippers).

Everything goes through one stdlib handler, so structlog's own loggers, the SDK's ``workflow.logger`` and
``activity.logger`` and the Azure SDK's loggers all come out in the same format with the same context. The
Temporal loggers put the workflow/activity identity in a ``temporal_*`` extra; it is flattened into the same
keys the activity context binds (``worker/interceptors.py``), so a log query by ``workflow_id`` finds both.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from temporalio import activity, workflow

_TEMPORAL_KEYS = {
    "temporal_workflow": {"workflow_id": "workflow_id", "run_id": "run_id", "workflow_type": "workflow_type"},
    "temporal_activity": {
        "workflow_id": "workflow_id",
        "workflow_run_id": "run_id",
        "activity_type": "activity",
        "attempt": "attempt",
    },
}


def _flatten_temporal(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for extra, keys in _TEMPORAL_KEYS.items():
        info = event.pop(extra, None)
        if isinstance(info, dict):
            for source, target in keys.items():
                if info.get(source) is not None:
                    event.setdefault(target, info[source])
    return event


def use_json(fmt: str) -> bool:
    """``auto`` means JSON unless stderr is a terminal: production runs are never attached to one."""
    return fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json(fmt) else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Not cached: a cached logger keeps the configuration of its first use, so a logger first used before
        # (re)configuration, e.g. in the demo or a test, ignored it. Costs microseconds per line, not a hot spot.
        cache_logger_on_first_use=False,
    )
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if use_json(fmt):
        final.append(structlog.processors.format_exc_info)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared, _flatten_temporal],
        processors=[*final, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # azure-core logs every HTTP request and response at INFO (tokens redacted); far too much for a fleet.
    logging.getLogger("azure").setLevel(max(logging.WARNING, root.level))
    # The identity goes into structured fields instead of being appended to the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
