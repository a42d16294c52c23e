"""End to end on a real stack: clips dropped into raw/<trip>/ reach `archived`; bad input fails cleanly."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from dashcam.ops.stack import start_ingest
from dashcam.ops.status import status_report
from flows.config import volumes
from flows.lifecycle import VIDEO_CHAIN
from models.db import session_scope
from models.tables import Plate, Sighting, Video
from tasks.synthetic import render_plate_clip
from tasks.watchlist import add_entry
from tests.conftest import (
    SHARED_DATA,
    ffprobe_height,
    ingest_now,
    prefect_client,
    runs_by_flow,
    shared,
    wait_for,
)

pytestmark = pytest.mark.slow

PER_VIDEO_FLOWS = VIDEO_CHAIN


def videos_under(settings, folder: str) -> dict[str, dict]:
    report = status_report(settings.database_url)
    return {v["path"]: v for v in report["videos"] if v["path"].startswith(folder + "/")}


def all_terminal(settings, folder: str, expected: int):
    vs = videos_under(settings, folder)
    if len(vs) >= expected and all(v["state"] in ("archived", "failed") for v in vs.values()):
        return vs
    return None


def stage_counts(settings, video_ids: list[str]) -> dict[tuple[str, str], int]:
    runs = runs_by_flow(settings)
    out = {}
    for flow_name in PER_VIDEO_FLOWS:
        per_video = Counter((r.parameters or {}).get("video_id") for r in runs.get(flow_name, []))
        out.update({(flow_name, vid): per_video[vid] for vid in video_ids})
    return out


def assert_each_stage_ran_once(settings, video_ids: list[str]) -> None:
    # cleanup is published just after the DB says archived: give it a moment to appear.
    wait_for(lambda: all(n >= 1 for n in stage_counts(settings, video_ids).values()), 120, "every stage's run")
    for (flow_name, vid), n in stage_counts(settings, video_ids).items():
        assert n == 1, f"{flow_name} ran {n} times for {vid}"


def assert_the_ui_shows_what_heavy_and_finalize_did(settings, video_id: str, text: str) -> None:
    """The stages' own log lines (tasks.heavy.*, tasks.finalize) are in their runs' logs, and each
    run has its artifact naming the plate: what the Prefect UI shows on the run's page."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    runs = runs_by_flow(settings)
    for flow_name, logger, line in (
        ("heavy", "tasks.heavy", f"heavy {video_id}: ok, "),
        ("finalize", "tasks.finalize", f"finalize {video_id}: wrote "),
    ):
        (run,) = [r for r in runs[flow_name] if (r.parameters or {}).get("video_id") == video_id]

        def own_lines(run_id=run.id, logger=logger):  # noqa: ANN202
            with prefect_client(settings) as c:
                logs = c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
            # heavy's modules log as tasks.heavy.run, tasks.heavy.frame_loop, ...
            return [lg.message for lg in logs if lg.name == logger or lg.name.startswith(logger + ".")] or None

        mine = wait_for(own_lines, 60, f"{flow_name}'s own lines in its run's logs")
        assert any(line in m for m in mine), (flow_name, mine)
        if flow_name == "heavy":
            assert any("plates from" in m and "sightings" in m for m in mine), mine
        else:
            assert any("trip " in m and "GPS points" in m for m in mine), mine
        with prefect_client(settings) as c:
            arts = c.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
        assert [a.type for a in arts] == ["markdown"], arts
        assert arts[0].key.startswith(f"{flow_name}-") and text in (arts[0].description or ""), arts[0]
        if flow_name == "heavy":
            assert f"| `{text}` |" in arts[0].data and "## Frames" in arts[0].data and "## Timings" in arts[0].data
        else:
            assert "| plate |" in arts[0].data and "## Trip " in arts[0].data and f"`{text}`" in arts[0].data


def test_clips_reach_archived(stack, alert_receiver, tmp_path: Path) -> None:
    s = stack.settings
    with session_scope(s.database_url) as session:  # the household watches one of the plates
        add_entry(session, "KA12BCD", "neighbour's van")
    raw = volumes(s).volume_root("raw")
    texts = {"2024_0601_083000_00001F.MP4": "KA12BCD", "2024_0601_083100_00002F.MP4": "MH04XY9"}
    (raw / "trip-synth").mkdir(parents=True)
    for i, (name, text) in enumerate(texts.items()):
        # Render elsewhere, then move in: a clip appears in raw whole, as a copy tool would leave it.
        clip = render_plate_clip(tmp_path / name, text=text, seconds=4.0, seed=i)
        shutil.move(clip, raw / "trip-synth" / name)
    # One real dashcam clip; the GoPro one goes through the in-process chain
    # (test_pipeline.py::test_process_real_clip), off the serial stack tests.
    real = [shared("videos/garmin_mini2/sample-1.mp4")]
    (raw / "trip-real").mkdir(parents=True)
    for src in real:
        shutil.copyfile(src, raw / "trip-real" / src.name)

    ingest_now(s, [f"trip-synth/{n}" for n in texts] + [f"trip-real/{p.name}" for p in real])
    synth = wait_for(lambda: all_terminal(s, "trip-synth", 2), 420, "the rendered clips to be archived")
    reals = wait_for(lambda: all_terminal(s, "trip-real", 1), 300, "the real clips to be archived")
    for v in [*synth.values(), *reals.values()]:
        assert v["state"] == "archived", v

    archive = volumes(s).volume_root("archive")
    with session_scope(s.database_url) as session:
        for name, text in texts.items():
            v = session.exec(select(Video).where(Video.path == f"trip-synth/{name}")).one()
            assert v.trip_id and v.camera == "viofo" and v.width == 1920 and v.archived_at is not None
            low = archive / v.video_id / "video_lowres.mp4"
            assert ffprobe_height(low) == 720
            plates = session.exec(select(Plate).where(Plate.video_id == v.video_id)).all()
            assert text in {p.text for p in plates}, f"{name}: read {[p.text for p in plates]}, rendered {text}"
            for p in plates:
                assert (archive / p.best_crop).is_file() and (archive / p.best_crop).stat().st_size > 0
            assert session.exec(select(Sighting).where(Sighting.video_id == v.video_id)).first() is not None
            work = volumes(s).volume_root("work") / v.video_id
            wait_for(lambda w=work: not w.exists(), 120, "cleanup to remove the intermediates")
        for src in real:
            v = session.exec(select(Video).where(Video.path == f"trip-real/{src.name}")).one()
            assert ffprobe_height(archive / v.video_id / "video_lowres.mp4") == min(720, v.height)
        ids = [v.video_id for v in session.exec(select(Video).where(Video.state == "archived", Video.path.like("trip-%")))]
        watched = session.exec(select(Video).where(Video.path == "trip-synth/2024_0601_083000_00001F.MP4")).one()
    assert_each_stage_ran_once(s, ids)
    assert_the_ui_shows_what_heavy_and_finalize_did(s, watched.video_id, "KA12BCD")

    # The watched plate: one notification (finalize ran on the main server's worker), and the
    # Prefect event users can build automations on.
    hits = [p for p in alert_receiver.posts if "KA12BCD" in p["title"]]
    assert len(hits) == 1 and "neighbour's van" in hits[0]["title"] and hits[0]["attachments"], hits
    with prefect_client(s) as c:
        page = c.request("POST", "/events/filter",
                         json={"filter": {"event": {"name": ["dashcam.watchlist.hit"]}}, "limit": 50}).json()
    assert [e["payload"]["text"] for e in page["events"]] == ["KA12BCD"], page["events"]


def test_schedules_follow_the_settings(stack) -> None:
    """The intervals come from the settings; with no camera address the sync schedule is off
    (it used to run a no-op flow every minute on the Indoor NAS)."""
    from dashcam.ops.stack import client

    with client(stack.settings) as c:
        found = {}
        for name in ("ingest", "reconcile", "sync"):
            (sched,) = c.read_deployment_by_name(f"{name}/dashcam").schedules
            found[name] = (sched.active, sched.schedule.interval.total_seconds())
    assert found == {
        "ingest": (True, stack.settings.ingest_interval_s),
        "reconcile": (True, stack.settings.reconcile_interval_s),
        "sync": (False, stack.settings.sync_interval_s),
    }


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_bad_input_fails_cleanly_and_good_clips_still_pass(stack, tmp_path: Path) -> None:
    s = stack.settings
    bad = volumes(s).volume_root("raw") / "trip-bad"
    bad.mkdir(parents=True)
    (bad / "empty.mp4").write_bytes(b"")
    shutil.copyfile(shared("videos/garmin_mini2/sample-invalid.mp4"), bad / "sample-invalid.mp4")
    good = render_plate_clip(tmp_path / "good.mp4", text="GD55KHD", seconds=3.0, width=1280, height=720, seed=7)
    data = good.read_bytes()
    (bad / "half.mp4").write_bytes(data[: len(data) // 2])
    shutil.copyfile(good, bad / "2024_0601_090000_00010F.MP4")
    seventy = sorted((SHARED_DATA / "videos" / "70mai").glob("*.MP4"))
    for src in seventy:
        shutil.copyfile(src, bad / src.name)

    # A clip still being copied while ingest scans: it must wait, then go through whole.
    growing = bad / "2024_0601_090100_00011F.MP4"

    partly_written = threading.Event()

    def copy_slowly() -> None:
        with open(growing, "wb") as f:
            step = len(data) // 8 + 1
            for i in range(0, len(data), step):
                f.write(data[i : i + step])
                f.flush()
                if i == step:
                    partly_written.set()
                time.sleep(1.5)

    # The copy never waits on the server: a kick that meets a busy server (503) must not leave
    # the clip half-written, which ingest would rightly fail as truncated.
    writer = threading.Thread(target=copy_slowly)
    writer.start()
    partly_written.wait(timeout=60)
    start_ingest(s)  # ingest looks while the copy is still going
    expected = 5 + len(seventy)
    writer.join()
    before = {p.name: _sha(p) for p in bad.iterdir()}

    ingest_now(s, [f"trip-bad/{p.name}" for p in bad.iterdir()])
    vs = wait_for(lambda: all_terminal(s, "trip-bad", expected), 600, "every file in trip-bad to end")
    by_name = {Path(p).name: v for p, v in vs.items()}
    for name in ("empty.mp4", "sample-invalid.mp4", "half.mp4"):
        assert by_name[name]["state"] == "failed", by_name[name]
    assert "empty" in by_name["empty.mp4"]["error"].lower()
    for name in ("2024_0601_090000_00010F.MP4", "2024_0601_090100_00011F.MP4"):
        assert by_name[name]["state"] == "archived", by_name[name]
    for src in seventy:
        v = by_name[src.name]
        if v["state"] == "failed":
            assert v["error"] and "Traceback" not in v["error"] and len(v["error"]) > 20, v
    # Files that ffprobe cannot even open must be failed, with a reason.
    assert by_name["NO20191130-123556-000155.MP4"]["state"] == "failed"
    assert by_name["EV20191130-121056-000130.MP4"]["state"] == "failed"
    assert {p.name: _sha(p) for p in bad.iterdir()} == before, "raw must never be modified"
