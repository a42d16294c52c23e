"""cleanup (indoor-nas): retention of intermediates and, after the retention period, raw clips."""

from prefect import flow

from dashcam.settings import get_settings
from flows.config import archive_config
from tasks.archive import run_cleanup


@flow(name="cleanup", retries=1, retry_delay_seconds=30)
def cleanup(video_id: str, raw_path: str, delete_raw: bool = False) -> list[str]:
    return run_cleanup(archive_config(get_settings()), video_id, raw_path, delete_raw)
