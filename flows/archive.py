"""archive (shed-nas): media to archive/<video_id>/, checksums verified, then the confirmation."""

from prefect import flow

from dashcam.settings import get_settings
from flows._handoff import handoff, publish
from flows.config import archive_config
from tasks.archive import run_archive


@flow(name="archive", retries=1, retry_delay_seconds=10)
def archive(video_id: str) -> dict:
    result = run_archive(archive_config(get_settings()), video_id)
    publish(*handoff("confirm-archived", video_id))
    return {"files": result.files, "bytes": result.bytes}
