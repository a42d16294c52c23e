"""heavy (workhorse): plates, reads and the archival copy of one video, into a bundle on `work`."""

import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import StateType

from dashcam.settings import get_settings
from flows import _artifacts
from flows._handoff import handoff, publish
from flows.config import heavy_config, volumes
from tasks.heavy import run_heavy


class LostOwnership(RuntimeError):
    pass


def still_owner() -> None:
    """Raise unless this run is still the live attempt for its video.

    A workhorse cut off from the server keeps working; meanwhile its run is marked Crashed and
    rescheduled, and another workhorse redoes the video. Checking with the server just before
    replacing `work/<video_id>` keeps the stale copy from overwriting the live one's bundle.
    """
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return  # called outside a flow run (tests, `dashcam process`): nothing to own
    mine = (
        ctx.flow_run.state.id if ctx.flow_run.state else None
    )  # the Running state this attempt set
    run, tries = None, 0
    while run is None:
        try:
            with get_client(sync_client=True) as client:
                run = client.read_flow_run(ctx.flow_run.id)
        except Exception as exc:  # noqa: BLE001 (any failure to reach the server means: not sure)
            tries += 1
            if tries >= 6:  # about a minute: a server restart passes, a cut cable does not
                raise LostOwnership(
                    f"cannot reach the Prefect server to confirm this run still owns the video "
                    f"({type(exc).__name__}); not publishing: the run will be rescheduled"
                ) from exc
            time.sleep(5)
    now = run.state
    if now is None or now.type != StateType.RUNNING or (mine is not None and now.id != mine):
        raise LostOwnership(
            "this attempt is no longer the live one (the server says "
            f"{now.type.value if now else None}, attempt {run.run_count}); not publishing"
        )


def stand_down(reason: str) -> NoReturn:
    """End this process without a word to the server.

    Raising would make the engine report Failed or retry (`retries=1`), which Prefect accepts
    even over the live attempt's Completed state; a non-zero exit would make the worker report
    Crashed over it. Exit code 0 and no state change leave the run to whoever owns it now.
    """
    get_run_logger().warning("heavy stands down: %s", reason)
    print(f"heavy stands down: {reason}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(0)


@flow(name="heavy", retries=1, retry_delay_seconds=10)
def heavy(video_id: str, raw_path: str) -> dict:
    settings = get_settings()
    try:
        result = run_heavy(heavy_config(settings), video_id, raw_path, before_publish=still_owner)
    except LostOwnership as exc:
        stand_down(str(exc))
    # The bundle is complete on `work` (success or a recorded failure): hand over to the main server.
    publish(*handoff("finalize", video_id))
    heavy_artifact(volumes(settings).resolve("work", video_id), video_id, raw_path)
    return {"status": result.status, "plates": result.plates, "sightings": result.sightings}


def heavy_artifact(work_dir: Path, video_id: str, raw_path: str) -> None:
    """The run's summary from its bundle: plates, reads, frames sampled and skipped, timings."""
    try:
        manifest, det = _artifacts.read_heavy_bundle(work_dir)
    except Exception as exc:  # noqa: BLE001 (the bundle is finalize's to judge)
        get_run_logger().warning("heavy %s: no artifact, bundle unreadable: %s", video_id, exc)
        return
    found = (
        ", ".join(p["text"] for p in (det or {}).get("plates", []))
        or manifest.get("error")
        or "no plates"
    )
    _artifacts.publish(
        "heavy",
        video_id,
        _artifacts.heavy_markdown(video_id, raw_path, manifest, det),
        f"heavy {video_id}: {found}",
    )
