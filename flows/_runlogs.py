"""The stages' own log lines (`logging.getLogger(__name__)` in tasks/, dashcam/, models/,
flows/) in their flow run's logs, shown in the Prefect UI.

Prefect sends only its run loggers (`prefect.flow_runs`, `prefect.task_runs`) to the API.
`PREFECT_LOGGING_EXTRA_LOGGERS=tasks` gives a named logger Prefect's API handler but not a
level (Prefect 3.9 copies only the handlers of `prefect.extra`), so `tasks.heavy` kept the root
logger's WARNING and every INFO line (progress, plates found, frames skipped, rows written)
was dropped before any handler saw it: not in the UI, not in the worker's log file either.

`route()` runs when the `flows` package is imported, which every flow run does (deployment
entrypoints are `flows.<stage>:<flow>`), wherever its worker runs and whatever its environment:
the domain loggers get INFO and one API handler that forwards records logged inside a flow or
task run (outside one, as in the CLI, it stays quiet). Records still propagate to the root
logger, so the same lines reach the flow run's stderr and the worker's log file.
"""

from __future__ import annotations

import logging

DOMAIN_LOGGERS = ("tasks", "dashcam", "models", "flows")


class _InRun(logging.Filter):
    """Only records that belong to a flow or task run go to the API."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "flow_run_id", None):
            return True
        from prefect.context import FlowRunContext, TaskRunContext

        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def route(names: tuple[str, ...] = DOMAIN_LOGGERS) -> None:
    """Give each domain logger INFO (unless something already lets INFO through) and the API
    handler (unless Prefect's PREFECT_LOGGING_EXTRA_LOGGERS gave it one). Idempotent."""
    from prefect.logging.handlers import APILogHandler

    for name in names:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            handler = APILogHandler()
            handler.addFilter(_InRun())
            logger.addHandler(handler)
