"""reconcile (main-server, on a schedule and on every stage run that crashes or fails): nothing
is lost when a device dies.

1. Stage runs that Crashed (a worker killed with its run, or marked Crashed by the heartbeat
   automation when a whole device vanished) or Failed are set back to Scheduled - the same run,
   so nothing downstream is duplicated - until `max_attempts` runs; then the video is failed
   with the reason. A run whose video has moved past its flow is cancelled instead, and an
   archived video is never failed by its housekeeping (`flows._handoff.after_failure`).
2. Videos sitting in a non-terminal state are published again with their idempotency key: a
   no-op when their next run exists, the missing handoff when a crash fell between commit and
   publish.

Runs started by the automation can overlap each other and the schedule's; they take turns on a
file lock (`one_at_a_time`), so two never both reschedule the same run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled, Crashed, Scheduled
from sqlmodel import select

from dashcam.settings import Settings, get_settings
from flows._handoff import (
    DEPLOYMENT,
    VIDEO_FLOWS,
    after_failure,
    failure_reason,
    next_handoff,
    publish,
)
from models.db import check_current, session_scope
from models.tables import State, Video, utcnow
from tasks.finalize import fail_video
from tasks.fsio import file_lock


@contextmanager
def one_at_a_time(path: Path, timeout_s: float = 300) -> Iterator[None]:
    """Hold the reconcile lock for one run. A Prefect deployment concurrency slot was tried
    first: a reconcile killed while Pending kept its slot for the lease's 5 minutes, and the
    Pending scan that would free it is reconcile's own; a flock dies with its process."""
    with file_lock(path, wait_s=timeout_s) as held:
        if not held:
            raise TimeoutError(
                f"another reconcile has held {path} for over {timeout_s:.0f} s; the next run tries again"
            )
        yield


@flow(name="reconcile")
def reconcile() -> dict:
    settings = get_settings()
    with one_at_a_time(settings.data_dir / "reconcile.lock"):
        return _reconcile(settings)


def _reconcile(settings: Settings) -> dict:
    logger = get_run_logger()
    check_current(settings.database_url)
    rescheduled = given_up = republished = 0
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        # A worker that died between taking a run (Pending) and starting it leaves a run no
        # heartbeat will ever clear, and that holds ingest's concurrency slot: crash it here.
        stale = datetime.now(UTC) - timedelta(seconds=settings.pending_crash_seconds)
        pending = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PENDING]))
            ),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT])),
            limit=200,
        )
        for run in pending:
            if run.state and run.state.timestamp < stale:
                client.set_flow_run_state(
                    run.id,
                    Crashed(
                        message=f"Pending for over {settings.pending_crash_seconds} s: the worker that took it is gone"
                    ),
                    force=True,
                )
                logger.warning(
                    "%s (%s) was stuck in Pending: marked Crashed", run.name, flows.get(run.flow_id)
                )
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.CRASHED, StateType.FAILED])
                )
            ),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT])),
            limit=200,
        )
        for run in runs:
            flow_name = flows.get(run.flow_id, "")
            video_id = (run.parameters or {}).get("video_id")
            if flow_name not in VIDEO_FLOWS or not video_id:
                continue
            with session_scope(settings.database_url) as session:
                video = session.get(Video, video_id)
                if video is None:
                    continue
                action = after_failure(flow_name, video.state, run.run_count, settings.max_attempts)
                message = (run.state.message if run.state else "") or "no message"
                if action == "skip":
                    continue
                if action in ("supersede", "give_up"):
                    why = (
                        f"not needed: {video_id} is already {video.state}"
                        if action == "supersede"
                        else f"given up after {run.run_count} runs ({message})"
                    )
                    # Cancelled, so the next reconcile does not look at it again.
                    client.set_flow_run_state(run.id, Cancelled(message=why), force=True)
                    log = logger.info if action == "supersede" else logger.error
                    log("%s for %s was %s: %s", flow_name, video_id, run.state_name, why)
                    continue
                if action == "reschedule":
                    client.set_flow_run_state(run.id, Scheduled(), force=True)
                    video.attempts += 1
                    session.add(video)
                    rescheduled += 1
                    logger.warning(
                        "%s for %s was %s (%s): scheduled again, run %d of %d",
                        flow_name,
                        video_id,
                        run.state_name,
                        message,
                        run.run_count + 1,
                        settings.max_attempts,
                    )
                else:
                    reason = failure_reason(
                        flow_name, run.state_name, run.run_count, message, run.name
                    )
                    fail_video(session, video_id, reason)
                    given_up += 1
                    logger.error("giving up on %s: %s", video_id, reason)

    # Handoffs that never happened (crash between commit and publish): publish again by key.
    stale_before = utcnow() - timedelta(seconds=settings.reconcile_interval_s)
    with session_scope(settings.database_url) as session:
        stuck = session.exec(
            select(Video).where(
                Video.state.in_([State.ingested, State.processed, State.finalized]),  # type: ignore[attr-defined]
                Video.updated_at < stale_before,
            )
        ).all()
        handoffs = [h for v in stuck if (h := next_handoff(v))]
    for flow_name, params, key in handoffs:
        run = publish(flow_name, params, key)
        if run.state and run.state.is_scheduled() and run.run_count == 0:
            republished += 1
    logger.info(
        "reconcile: %d runs scheduled again, %d videos given up, %d handoffs checked (%d now waiting)",
        rescheduled,
        given_up,
        len(handoffs),
        republished,
    )
    return {"rescheduled": rescheduled, "given_up": given_up, "republished": republished}
