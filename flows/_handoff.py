"""Publishing the next stage: the only way one device hands work to another.

`run_deployment(..., timeout=0, as_subflow=False, idempotency_key=...)` creates a flow run in the
next pool and returns at once; the same key returns the same run, so a stage that crashes between
publishing and completing, or a reconcile that publishes again, never duplicates downstream work.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError

from flows.lifecycle import DEPLOYMENT, NEEDED_IN, STEP, VIDEO_FLOWS, resume_flow
from models.tables import State, Video

# The table itself is flows/lifecycle.py; these names are what the flows and reconcile use.
__all__ = ["DEPLOYMENT", "NEEDED_IN", "VIDEO_FLOWS", "after_failure", "handoff", "next_handoff",
           "publish", "start_run"]

log = logging.getLogger(__name__)  # routed to the run's log in a flow run (flows/_runlogs.py)

# On the all-in-one SQLite server a request that reads then writes (creating a flow run from a
# deployment is one) fails at once with "database is locked" whenever another write lands in
# between, and answers 503. Under load that can go on for longer than the ~60 s Prefect's client
# retries for; a busy server is no reason to give up a handoff, so we keep asking this long.
BUSY_PATIENCE_S = 300.0


def start_run(name: str, patience: float = BUSY_PATIENCE_S, **kwargs: Any):
    """`run_deployment(name, timeout=0, as_subflow=False, **kwargs)`, asking again every 5 s
    while the server answers 5xx, for `patience` seconds. Safe to repeat: with an idempotency
    key the server returns the run it made; without one (ingest) a second run is harmless."""
    from prefect.settings import PREFECT_API_URL

    deadline = time.monotonic() + patience
    while True:
        try:
            return run_deployment(name, timeout=0, as_subflow=False, **kwargs)
        except PrefectHTTPStatusError as exc:
            code = exc.response.status_code
            if code < 500 or time.monotonic() >= deadline:
                raise
            log.warning("the Prefect server at %s is busy (HTTP %d) and did not start %s; "
                        "asking again in 5 s", PREFECT_API_URL.value(), code, name)
            time.sleep(5)


def publish(
    flow_name: str,
    parameters: dict[str, Any],
    key: str,
    scheduled_time: datetime | None = None,
):
    video_id = parameters.get("video_id")
    return start_run(
        f"{flow_name}/{DEPLOYMENT}",
        parameters=parameters,
        idempotency_key=key,
        scheduled_time=scheduled_time,
        flow_run_name=f"{flow_name}-{video_id}" if video_id else None,
    )


def handoff(flow_name: str, video_id: str, raw_path: str | None = None) -> tuple[str, dict[str, Any], str]:
    """(flow, parameters, idempotency key) of a per-video flow, for `publish(*handoff(...))`.
    The key is the flow and the video: the one run of that flow for that video."""
    step = STEP[flow_name]
    values = {"video_id": video_id, "raw_path": raw_path}
    params = {name: values[name] for name in step.params}
    if any(v is None for v in params.values()):
        raise ValueError(f"{flow_name} needs {', '.join(step.params)}; got {params}")
    return flow_name, params, f"{flow_name}:{video_id}"


def next_handoff(video: Video) -> tuple[str, dict[str, Any], str] | None:
    """What must run next for a video in a non-terminal state: (flow, parameters, key)."""
    flow_name = resume_flow(video.state)
    return None if flow_name is None else handoff(flow_name, video.video_id, video.path)


def after_failure(flow_name: str, state: State, run_count: int, max_attempts: int) -> str:
    """What reconcile does with a Crashed/Failed run of a video flow.

    - "skip": the video failed already, nothing more to do;
    - "supersede": the video moved past this flow: the run is closed, not run again (a second
      heavy for an archived video would rebuild a bundle that cleanup already removed);
    - "reschedule": the same run is set back to Scheduled;
    - "give_up": out of attempts on an archived video: the run is closed and logged, but the
      video stays archived (its media and metadata are safe; only NAS housekeeping is left);
    - "fail_video": out of attempts before the video was archived: the video is failed.
    """
    if state == State.failed:
        return "skip"
    if state not in NEEDED_IN.get(flow_name, set()):
        return "supersede"
    if run_count < max_attempts:
        return "reschedule"
    return "give_up" if state == State.archived else "fail_video"


def failure_reason(flow_name: str, state_name: str, run_count: int, message: str,
                   run_name: str) -> str:
    """Why a video is failed when a flow runs out of attempts, and what is safe. A failed
    confirm-archived comes after the archive was written and verified on the Shed NAS."""
    reason = (f"{flow_name} ended {state_name} {run_count} times ({message}); "
              f"see flow run {run_name} in the Prefect UI")
    if flow_name == "confirm-archived":
        reason += ("; its archive (archive/<video_id>/ on the Shed NAS) is complete and its "
                   "metadata committed: only the `archived` mark and the NAS cleanup are missing")
    return reason
