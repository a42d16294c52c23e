"""Publishing the next stage: the only way one device hands work to another.

`run_deployment(..., timeout=0, as_subflow=False, idempotency_key=...)` creates a flow run in the
next pool and returns at once; the same key returns the same run, so a stage that crashes between
publishing and completing, or a reconcile that publishes again, never duplicates downstream work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect.deployments import run_deployment

from models.tables import Stage, Video

DEPLOYMENT = "dashcam"  # every stage flow is deployed under this name in prefect.yaml

# Stage flows that work on one video, and the pool (device) each runs on.
VIDEO_FLOWS = {
    "heavy": "workhorse",
    "finalize": "main-server",
    "archive": "shed-nas",
    "confirm-archived": "main-server",
    "cleanup": "indoor-nas",
}


def publish(
    flow_name: str,
    parameters: dict[str, Any],
    key: str,
    scheduled_time: datetime | None = None,
):
    video_id = parameters.get("video_id")
    return run_deployment(
        f"{flow_name}/{DEPLOYMENT}",
        parameters=parameters,
        timeout=0,
        as_subflow=False,
        idempotency_key=key,
        scheduled_time=scheduled_time,
        flow_run_name=f"{flow_name}-{video_id}" if video_id else None,
    )


def heavy_handoff(video_id: str, raw_path: str) -> tuple[str, dict[str, Any], str]:
    return "heavy", {"video_id": video_id, "raw_path": raw_path}, f"heavy:{video_id}"


def next_handoff(video: Video) -> tuple[str, dict[str, Any], str] | None:
    """What must run next for a video in a non-terminal stage: (flow, parameters, key)."""
    vid = video.video_id
    if video.stage == Stage.ingested:
        return heavy_handoff(vid, video.path)
    if video.stage == Stage.processed:
        return "finalize", {"video_id": vid}, f"finalize:{vid}"
    if video.stage == Stage.finalized:
        return "archive", {"video_id": vid}, f"archive:{vid}"
    return None


# The stages in which a video still needs a run of each flow. A Crashed or Failed run whose
# video has moved past them is stale: another run of the same flow already did its work.
NEEDED_IN = {
    "heavy": {Stage.ingested},
    "finalize": {Stage.ingested, Stage.processed},
    "archive": {Stage.finalized},
    # Run again even when archived: a crash between set_archived and publishing cleanup.
    "confirm-archived": {Stage.finalized, Stage.archived},
    "cleanup": {Stage.archived},
}


def after_failure(flow_name: str, stage: Stage, run_count: int, max_attempts: int) -> str:
    """What reconcile does with a Crashed/Failed run of a video flow.

    - "skip": the video failed already, nothing more to do;
    - "supersede": the video moved past this flow: the run is closed, not run again (a second
      heavy for an archived video would rebuild a bundle that cleanup already removed);
    - "reschedule": the same run is set back to Scheduled;
    - "give_up": out of attempts on an archived video: the run is closed and logged, but the
      video stays archived (its media and metadata are safe; only NAS housekeeping is left);
    - "fail_video": out of attempts before the video was archived: the video is failed.
    """
    if stage == Stage.failed:
        return "skip"
    if stage not in NEEDED_IN.get(flow_name, set()):
        return "supersede"
    if run_count < max_attempts:
        return "reschedule"
    return "give_up" if stage == Stage.archived else "fail_video"
