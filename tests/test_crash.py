"""Power loss: kill -9 a device's worker and its flow-run process mid-stage, restart the Prefect
server mid-pipeline; the video still ends `archived`, once, with nothing duplicated."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import func, select

from models.db import session_scope
from models.tables import Plate, Sighting, Video
from tasks.synthetic import render_plate_clip
from tests.conftest import running_stack, runs_by_flow, wait_for

pytestmark = pytest.mark.slow

DOWNSTREAM = ("finalize", "archive", "confirm-archived", "cleanup")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    # A known pause in the middle of heavy and finalize gives the kill a stage to land in.
    with running_stack(tmp_path_factory.mktemp("crash"), fault_delay={"heavy": 15, "finalize": 15}) as st:
        yield st


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


def drop_clip(stack, tmp_path: Path, folder: str, text: str, seed: int) -> str:
    s = stack.settings
    clip = render_plate_clip(tmp_path / f"2024_0701_1000{seed:02d}_000{seed:02d}F.MP4", text=text, seconds=3.0,
                             width=1280, height=720, seed=seed)
    dest = s.volume_root("raw") / folder
    dest.mkdir(parents=True)
    shutil.move(clip, dest / clip.name)
    rel = f"{folder}/{clip.name}"

    def ingested():
        with session_scope(s.database_url) as session:
            v = session.exec(select(Video).where(Video.path == rel)).first()
            return v.video_id if v else None

    return wait_for(ingested, 120, f"{rel} to be ingested")  # type: ignore[return-value]


def assert_archived_once(stack, video_id: str) -> None:
    s = stack.settings

    def archived():
        with session_scope(s.database_url) as session:
            v = session.get(Video, video_id)
            return v is not None and v.stage in ("archived", "failed") and v
    v = wait_for(archived, 420, f"{video_id} to end", every=2)
    assert v.stage == "archived", v.error

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
    assert (s.volume_root("archive") / video_id / "video_lowres.mp4").is_file()


def test_workhorse_power_loss_mid_heavy(stack, tmp_path: Path) -> None:
    vid = drop_clip(stack, tmp_path, "crash-heavy", "CR45HHV", 1)
    wait_for(lambda: (r := run_of(stack.settings, "heavy", vid)) and r.state_name == "Running", 180, "heavy to run")
    time.sleep(5)  # inside the stage: frames read, bundle not written
    power_loss(stack, "workhorse")
    assert not (stack.settings.volume_root("work") / vid / "manifest.json").exists()
    stack.start_worker("workhorse")  # the device comes back
    assert_archived_once(stack, vid)
    assert run_of(stack.settings, "heavy", vid).run_count >= 2


def test_main_server_power_loss_mid_finalize(stack, tmp_path: Path) -> None:
    vid = drop_clip(stack, tmp_path, "crash-finalize", "FN12ALZ", 2)
    wait_for(lambda: (r := run_of(stack.settings, "finalize", vid)) and r.state_name == "Running", 300, "finalize to run")
    time.sleep(4)
    power_loss(stack, "main-server")
    stack.start_worker("main-server")
    assert_archived_once(stack, vid)


def test_prefect_server_restart_mid_pipeline(stack, tmp_path: Path) -> None:
    vid = drop_clip(stack, tmp_path, "crash-server", "SV99RST", 3)
    wait_for(lambda: (r := run_of(stack.settings, "heavy", vid)) and r.state_name == "Running", 180, "heavy to run")
    time.sleep(3)
    server = stack.server
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    time.sleep(3)
    stack.start_server()
    assert_archived_once(stack, vid)
