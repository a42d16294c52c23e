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
