"""confirm-archived (main-server): the DB records `archived`; cleanup of the NAS is published."""

from datetime import UTC, datetime, timedelta

from prefect import flow

from dashcam.settings import get_settings
from flows._handoff import handoff, publish
from models.db import check_current, session_scope
from tasks.finalize import confirm_archived as record_archived


@flow(name="confirm-archived", retries=1, retry_delay_seconds=10)
def confirm_archived(video_id: str) -> dict:
    settings = get_settings()
    check_current(settings.database_url)
    with session_scope(settings.database_url) as session:
        video = record_archived(session, video_id)
        raw_path = video.path
    # Intermediates go now; the raw clip only after the retention period, if one is set.
    publish(*handoff("cleanup", video_id, raw_path))
    if settings.raw_retention_days is not None:
        when = datetime.now(UTC) + timedelta(days=settings.raw_retention_days)
        params = {"video_id": video_id, "raw_path": raw_path, "delete_raw": True}
        publish("cleanup", params, f"cleanup-raw:{video_id}", when)
    return {"state": video.state}
