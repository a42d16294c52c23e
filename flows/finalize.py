"""finalize (main-server): validate the bundle, replace the video's metadata in one transaction."""

from prefect import flow, get_run_logger

from dashcam.settings import get_settings
from flows import _artifacts
from flows._handoff import handoff, publish
from flows.config import finalize_config
from models.db import check_current, session_scope
from models.tables import State
from tasks import watchlist
from tasks.finalize import apply_bundle, load_bundle, mark_processed, send_watchlist_alerts
from tasks.volumes import fault_pause


@flow(name="finalize", retries=1, retry_delay_seconds=10)
def finalize(video_id: str) -> dict:
    settings = get_settings()
    config = finalize_config(settings)
    check_current(settings.database_url)
    manifest, detections = load_bundle(config, video_id)
    with session_scope(settings.database_url) as session:
        mark_processed(session, video_id)
    fault_pause(settings.fault_hold_dir, "finalize", video_id)
    with session_scope(settings.database_url) as session:
        result = apply_bundle(session, video_id, manifest, detections, config)
    _artifacts.publish(
        "finalize",
        video_id,
        _artifacts.finalize_markdown(result),
        _artifacts.finalize_description(result),
    )
    if result.state == State.failed:
        get_run_logger().warning("video %s failed: %s", video_id, result.error)
        return {"state": result.state, "error": result.error}
    # Before the handoff: a crash after it would leave no finalize run to send them.
    sent = send_watchlist_alerts(config, video_id, watchlist.matcher, _emit)
    if sent.sent or sent.pending or sent.failed:
        get_run_logger().info(
            "watchlist alerts for %s: %d sent, %d to retry, %d given up",
            video_id, sent.sent, sent.pending, sent.failed,
        )  # fmt: skip
    publish(*handoff("archive", video_id))
    return {"state": result.state}


def _emit(event: str, resource: dict, payload: dict) -> None:
    """The Prefect event of a watchlist hit (users build automations on it)."""
    from prefect.events import emit_event

    emit_event(event=event, resource=resource, payload=payload)
