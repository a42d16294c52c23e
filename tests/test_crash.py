"""Power loss: kill -9 a device's worker and its flow-run process mid-stage, restart the Prefect
server mid-pipeline; the video still ends `archived`, once, with nothing duplicated."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import func, select

from flows.config import volumes
from models.db import session_scope
from models.tables import Plate, Sighting, Video
from tasks.ingest import make_video_id
from tasks.synthetic import render_plate_clip
from tests.conftest import ingest_now, runs_by_flow, wait_for

pytestmark = pytest.mark.slow

DOWNSTREAM = ("finalize", "archive", "confirm-archived", "cleanup")


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def power_loss(stack, device: str) -> list[int]:
    """kill -9 the device's worker and every process under it (its flow runs), like a power cut."""
    worker = stack.workers.pop(device)
    victims = [worker.pid, *descendants(worker.pid)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()
    return victims


def run_of(settings, flow_name: str, video_id: str):
    runs = [r for r in runs_by_flow(settings).get(flow_name, []) if (r.parameters or {}).get("video_id") == video_id]
    return runs[0] if runs else None


@dataclass(frozen=True)
class Clip:
    rel: str  # its path in the raw volume
    video_id: str  # what ingest will call it (known before it is dropped, to hold it by id)
    rendered: Path


def render(tmp_path: Path, folder: str, text: str, seed: int) -> Clip:
    clip = render_plate_clip(tmp_path / f"2024_0701_1000{seed:02d}_000{seed:02d}F.MP4", text=text, seconds=3.0,
                             width=1280, height=720, seed=seed)
    rel = f"{folder}/{clip.name}"
    return Clip(rel, make_video_id(rel, clip, clip.stat().st_size), clip)


def hold(stack, stage: str, clip: Clip) -> Path:
    """Make `stage` of this clip wait at its fault point until `release` (tasks.volumes.fault_pause)."""
    h = stack.settings.fault_hold_dir / f"{stage}.{clip.video_id}.hold"
    h.touch()
    return h


def wait_reached(stack, stage: str, clip: Clip, timeout: float) -> None:
    marker = stack.settings.fault_hold_dir / f"{stage}.{clip.video_id}.reached"
    wait_for(marker.exists, timeout, f"{stage} of {clip.rel} to reach its fault point", every=0.5)


def release(stack, stage: str, clip: Clip) -> None:
    (stack.settings.fault_hold_dir / f"{stage}.{clip.video_id}.hold").unlink()


def drop(stack, clip: Clip) -> None:
    dest = volumes(stack.settings).volume_root("raw") / clip.rel
    dest.parent.mkdir(parents=True)
    shutil.move(clip.rendered, dest)  # appears whole, as a copy tool leaves it
    ingest_now(stack.settings, [clip.rel])


def assert_archived_once(stack, video_id: str) -> None:
    s = stack.settings

    def archived():
        with session_scope(s.database_url) as session:
            v = session.get(Video, video_id)
            return v is not None and v.state in ("archived", "failed") and v
    v = wait_for(archived, 420, f"{video_id} to end", every=2)
    assert v.state == "archived", v.error

    def cleaned():  # cleanup is published right after the DB says archived
        runs = runs_by_flow(s)
        done = [r for r in runs.get("cleanup", []) if r.parameters.get("video_id") == video_id and r.state_name == "Completed"]
        return runs if done else None

    runs = wait_for(cleaned, 120, f"cleanup of {video_id}", every=2)
    heavy_runs = [r for r in runs["heavy"] if r.parameters["video_id"] == video_id]
    assert len(heavy_runs) == 1, "a crashed run is rescheduled, not duplicated"
    for name in DOWNSTREAM:
        n = Counter(r.parameters.get("video_id") for r in runs.get(name, []))[video_id]
        assert n == 1, f"{name} ran {n} times for {video_id}"
    with session_scope(s.database_url) as session:
        plates = session.exec(select(Plate).where(Plate.video_id == video_id)).all()
        assert plates, "the plate was read"
        dup = session.exec(
            select(Sighting.frame_s, Sighting.x1, func.count())
            .where(Sighting.video_id == video_id)
            .group_by(Sighting.frame_s, Sighting.x1)
            .having(func.count() > 1)
        ).all()
        assert dup == [], "no duplicate sightings"
        assert len({p.plate_id for p in plates}) == len(plates)
    assert (volumes(s).volume_root("archive") / video_id / "video_lowres.mp4").is_file()


def test_workhorse_and_main_server_lose_power_in_one_heartbeat_window(stack, tmp_path: Path) -> None:
    """Two devices die together: the workhorse mid-heavy on one clip, the main server mid-finalize
    on another. Both runs are found Crashed, rescheduled, and each clip ends archived once."""
    in_finalize = render(tmp_path, "crash-finalize", "FN12ALZ", 2)
    hold(stack, "finalize", in_finalize)
    drop(stack, in_finalize)
    wait_reached(stack, "finalize", in_finalize, 300)  # DB row marked processed, bundle not applied
    in_heavy = render(tmp_path, "crash-heavy", "CR45HHV", 1)
    hold(stack, "heavy", in_heavy)
    drop(stack, in_heavy)
    wait_reached(stack, "heavy", in_heavy, 300)  # frames read, bundle not written
    power_loss(stack, "workhorse")
    power_loss(stack, "main-server")
    assert not (volumes(stack.settings).volume_root("work") / in_heavy.video_id / "manifest.json").exists()
    release(stack, "heavy", in_heavy)
    release(stack, "finalize", in_finalize)
    stack.start_worker("workhorse")  # the devices come back
    stack.start_worker("main-server")
    assert_archived_once(stack, in_heavy.video_id)
    assert_archived_once(stack, in_finalize.video_id)
    assert run_of(stack.settings, "heavy", in_heavy.video_id).run_count >= 2
    assert run_of(stack.settings, "finalize", in_finalize.video_id).run_count >= 2
    # The crashes started reconcile themselves (the stack's schedule is a slow fallback).
    reconciles = runs_by_flow(stack.settings)["reconcile"]
    assert any(not r.auto_scheduled for r in reconciles), [(r.name, r.auto_scheduled) for r in reconciles]


def test_prefect_server_restart_mid_pipeline(stack, tmp_path: Path) -> None:
    clip = render(tmp_path, "crash-server", "SV99RST", 3)
    hold(stack, "heavy", clip)
    drop(stack, clip)
    wait_reached(stack, "heavy", clip, 300)
    server = stack.server
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    stack.start_server()
    release(stack, "heavy", clip)  # the run that lived through the restart goes on
    assert_archived_once(stack, clip.video_id)
