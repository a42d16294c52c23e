"""ingest (main-server, on a schedule): new complete clips in `raw` become videos; heavy is published."""

import time

from prefect import flow, get_run_logger

from dashcam.settings import Settings, get_settings
from flows._handoff import heavy_handoff, publish
from models.db import check_current, session_scope
from tasks.ingest import IngestResult, scan

# A clip seen for the first time counts as complete only when a second look, stable_seconds later,
# finds it unchanged. Up to this long, the second look is taken in the same run instead of a whole
# schedule interval later (a clip copied in is then ingested in one run, not two).
SECOND_LOOK_MAX_S = 30.0


def _scan(settings: Settings) -> IngestResult:
    with session_scope(settings.database_url) as session:
        return scan(settings, session)


@flow(name="ingest", log_prints=True)
def ingest() -> dict:
    logger = get_run_logger()
    settings = get_settings()
    check_current(settings.database_url)
    result = _scan(settings)
    if result.waiting and settings.stable_seconds <= SECOND_LOOK_MAX_S:
        logger.info(
            "%d new or growing file(s); looking again in %.0f s", len(result.waiting), settings.stable_seconds
        )
        time.sleep(settings.stable_seconds)
        again = _scan(settings)
        result.new += again.new
        result.failed += again.failed
        result.waiting = again.waiting
    # Published only after the rows are committed; a crash in between is caught by reconcile.
    for new in result.new:
        publish(*heavy_handoff(new.video_id, new.path))
    for path, reason in result.failed:
        logger.warning("failed: %s: %s", path, reason)
    logger.info(
        "ingest: %d new, %d failed, %d still being written",
        len(result.new),
        len(result.failed),
        len(result.waiting),
    )
    return {"new": len(result.new), "failed": len(result.failed), "waiting": len(result.waiting)}
