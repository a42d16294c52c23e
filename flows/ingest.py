"""ingest (main-server, on a schedule): new complete clips in `raw` become videos; heavy is published."""

from prefect import flow, get_run_logger

from dashcam.settings import get_settings
from flows._handoff import handoff, publish
from flows.config import ingest_config
from models.db import check_current
from tasks.ingest import scan_twice


@flow(name="ingest", log_prints=True)
def ingest() -> dict:
    logger = get_run_logger()
    settings = get_settings()
    check_current(settings.database_url)
    result = scan_twice(ingest_config(settings), lambda n: logger.info(
        "%d new or growing file(s); looking again in %.0f s", n, settings.stable_seconds
    ))
    # Published only after the rows are committed; a crash in between is caught by reconcile.
    for new in result.new:
        publish(*handoff("heavy", new.video_id, new.path))
    for path, reason in result.failed:
        logger.warning("failed: %s: %s", path, reason)
    logger.info(
        "ingest: %d new, %d failed, %d still being written",
        len(result.new),
        len(result.failed),
        len(result.waiting),
    )
    return {"new": len(result.new), "failed": len(result.failed), "waiting": len(result.waiting)}
