"""sync (indoor-nas, on a schedule): new clips from the dashcam over Wi-Fi into `raw`.

Off until DASHCAM_CAMERA_ADDRESS is set. The camera being away (the car is out) is the normal
case: the run completes at once and quietly. Ingest picks the clips up like any other file.
"""

from prefect import flow, get_run_logger

from dashcam.settings import get_settings
from flows.config import archive_config, sync_config, volumes
from tasks.archive import is_archived
from tasks.sync import sync as sync_camera

__all__ = ["sync", "sync_config"]  # sync_config: the CLI's import, now built in flows.config


@flow(name="sync")
def sync(address: str | None = None) -> dict:
    logger = get_run_logger()
    settings = get_settings()
    address = address or settings.camera_address
    if not address:
        logger.debug("sync: no camera address set (DASHCAM_CAMERA_ADDRESS)")
        return {"enabled": False}
    raw = volumes(settings).volume_root("raw")
    archive = archive_config(settings)
    result = sync_camera(sync_config(settings, address), raw, lambda rel: is_archived(archive, rel))
    if result.reachable:
        logger.info("sync: %s", result.summary)
    return {"reachable": result.reachable, "downloaded": len(result.downloaded), "failed": len(result.failed)}
