"""The stages' domain code without Prefect: ingest, heavy, finalize, archive, cleanup, status, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from dashcam.ops.pipeline import process_paths
from dashcam.ops.status import status_report
from dashcam.settings import Settings
from flows.config import archive_config, finalize_config, heavy_config, ingest_config, volumes
from models.db import DatabaseError, check_current, session_scope, upgrade
from models.tables import Frame, Plate, SeenFile, Sighting, State, Trip, Video
from tasks import bundle
from tasks.archive import is_archived, run_archive, run_cleanup
from tasks.finalize import apply_bundle, load_bundle
from tasks.grouping import Observation, group_reads
from tasks.heavy import run_heavy
from tasks.ingest import scan, scan_twice
from tasks.synthetic import render_plate_clip
from tests.conftest import ffprobe_height, shared


@pytest.fixture(scope="module")
def plate_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    return render_plate_clip(d / "2024_0601_083000_00001F.MP4", text="KA12BCD", seconds=3.0, seed=1)


def test_settings_resolve_refuses_escape(settings: Settings) -> None:
    assert volumes(settings).resolve("raw", "trip/a.mp4") == settings.raw_root / "trip" / "a.mp4"
    with pytest.raises(ValueError, match="outside the raw volume"):
        volumes(settings).resolve("raw", "../../etc/passwd")


def test_migrations_and_wal(settings: Settings) -> None:
    with pytest.raises(DatabaseError, match="dashcam db upgrade"):
        check_current(settings.database_url)
    upgrade(settings.database_url)
    upgrade(settings.database_url)  # idempotent
    check_current(settings.database_url)
    import sqlite3

    db = settings.database_url.split("///", 1)[1]
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[1] for r in sqlite3.connect(db).execute("SELECT type, name FROM sqlite_master WHERE type='index'")}
    assert {"ix_plate_text", "ix_sighting_text", "ix_sighting_seen_at", "ix_video_recorded_at"} <= indexes


def test_migrations_match_the_models(settings: Settings) -> None:
    """Every table and column the code declares is what the migrations build: nothing to autogenerate."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401
    from models.db import get_engine, include_object

    upgrade(settings.database_url)
    with warnings.catch_warnings(), get_engine(settings.database_url).connect() as conn:
        warnings.simplefilter("ignore")  # SQLite cannot reflect the expression index: expected
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object})
        assert compare_metadata(ctx, SQLModel.metadata) == []


def test_one_ingest_run_takes_its_second_look(settings: Settings, plate_clip: Path) -> None:
    """A clip copied in is ingested by one run: the second look comes stable_seconds later, in
    the same run, not a schedule interval later."""
    settings = settings.model_copy(update={"stable_seconds": 0.5})
    upgrade(settings.database_url)
    (settings.raw_root / "t").mkdir(parents=True)
    shutil.copyfile(plate_clip, settings.raw_root / "t" / plate_clip.name)
    looks: list[int] = []
    r = scan_twice(ingest_config(settings), looks.append)
    assert looks == [1] and [n.path for n in r.new] == [f"t/{plate_clip.name}"] and not r.waiting


def test_ingest_waits_for_growing_files_and_fails_bad_ones(settings: Settings, plate_clip: Path) -> None:
    settings = settings.model_copy(update={"stable_seconds": 3600})
    upgrade(settings.database_url)
    trip = settings.raw_root / "trip1"
    trip.mkdir(parents=True)
    shutil.copyfile(plate_clip, trip / plate_clip.name)
    (trip / "empty.mp4").write_bytes(b"")
    (trip / ".hidden.mp4").write_bytes(b"x")
    (trip / "notes.txt").write_text("not a clip")
    with session_scope(settings.database_url) as s:
        r = scan(ingest_config(settings), s)
    assert sorted(r.waiting) == ["trip1/2024_0601_083000_00001F.MP4", "trip1/empty.mp4"]
    assert not r.new and not r.failed
    # Unchanged long enough: now taken.
    settings = settings.model_copy(update={"stable_seconds": 0})
    with session_scope(settings.database_url) as s:
        r = scan(ingest_config(settings), s)
    assert [n.path for n in r.new] == ["trip1/2024_0601_083000_00001F.MP4"]
    assert [p for p, _ in r.failed] == ["trip1/empty.mp4"]
    with session_scope(settings.database_url) as s:
        v = s.exec(select(Video).where(Video.path == "trip1/2024_0601_083000_00001F.MP4")).one()
        assert v.camera == "viofo" and v.channel == "F" and v.recorded_at.hour == 8
        assert v.width == 1920 and v.height == 1080 and v.state == State.ingested
        assert s.get(Trip, v.trip_id).video_count == 1
        assert s.exec(select(SeenFile)).all() == []
        failed = s.exec(select(Video).where(Video.path == "trip1/empty.mp4")).one()
        assert failed.state == State.failed and "empty" in failed.error.lower()
        assert str(settings.raw_root) not in failed.error, "reasons name the file relative to raw"
    # A second scan takes nothing twice.
    with session_scope(settings.database_url) as s:
        r = scan(ingest_config(settings), s)
    assert not r.new and not r.failed
    # The failed file replaced by a good copy is ingested afresh.
    shutil.copyfile(plate_clip, trip / "empty.mp4")
    with session_scope(settings.database_url) as s:
        r = scan(ingest_config(settings), s)
    assert [n.path for n in r.new] == ["trip1/empty.mp4"] and not r.failed
    with session_scope(settings.database_url) as s:
        assert s.exec(select(Video).where(Video.path == "trip1/empty.mp4")).one().state == State.ingested


def test_heavy_finalize_archive_cleanup(settings: Settings, plate_clip: Path) -> None:
    upgrade(settings.database_url)
    (settings.raw_root / "t").mkdir(parents=True)
    shutil.copyfile(plate_clip, settings.raw_root / "t" / plate_clip.name)
    with session_scope(settings.database_url) as s:
        new = scan(ingest_config(settings), s).new[0]
    res = run_heavy(heavy_config(settings), new.video_id, new.path)
    assert res.status == "ok" and res.plates >= 1
    work = settings.work_root / new.video_id
    manifest = bundle.read_manifest(work)
    assert {"detections.json", "video_lowres.mp4"} <= set(manifest["files"])
    assert ffprobe_height(work / "video_lowres.mp4") == 720

    for _ in range(2):  # finalizing twice replaces, never appends
        m, det = load_bundle(finalize_config(settings), new.video_id)
        with session_scope(settings.database_url) as s:
            assert apply_bundle(s, new.video_id, m, det).state == State.finalized
    with session_scope(settings.database_url) as s:
        plates = s.exec(select(Plate).where(Plate.video_id == new.video_id)).all()
        assert "KA12BCD" in {p.text for p in plates}
        n_sightings = len(s.exec(select(Sighting).where(Sighting.video_id == new.video_id)).all())
        assert n_sightings == len(det["sightings"])
        assert len(s.exec(select(Frame).where(Frame.video_id == new.video_id)).all()) == 2 * len(plates)

    res = run_archive(archive_config(settings), new.video_id)
    arch = settings.archive_root / new.video_id
    assert (arch / "video_lowres.mp4").is_file() and list((arch / "plates").glob("*_best_crop.jpg"))
    assert res.files == len(list(p for p in arch.rglob("*") if p.is_file())) - 1  # + its manifest
    assert not is_archived(archive_config(settings), new.path)
    removed = run_cleanup(archive_config(settings), new.video_id, new.path)
    assert removed == [f"work/{new.video_id}"] and (settings.raw_root / new.path).is_file()
    assert is_archived(archive_config(settings), new.path)
    assert run_cleanup(archive_config(settings), new.video_id, new.path, delete_raw=True) == [f"raw/{new.path}"]


@pytest.mark.parametrize(("regions", "plates"), [("eu", 1), ("us", 0)])
def test_heavy_keeps_an_unsure_track_only_when_its_text_fits_a_format(
    tmp_path: Path, plate_clip: Path, regions: str, plates: int
) -> None:
    """With the detector made unsure of every box, KA12BCD still fits the UK layout (an eu
    format) and is kept; the us formats have no such layout, so nothing is kept at all."""
    settings = Settings(
        data_dir=tmp_path / "data", raw_root=plate_clip.parent, plate_min_confidence=0.99,
        plate_regions=regions,
    )  # fmt: skip
    res = run_heavy(heavy_config(settings), "unsure", plate_clip.name)
    det = json.loads((settings.work_root / "unsure" / "detections.json").read_text())
    assert res.status == "ok" and res.plates == plates
    assert [p["text"] for p in det["plates"]] == ["KA12BCD"] * plates
    assert det["timings"]["ocr_reads"] >= 1  # the boxes were there, and read
    assert (det["timings"]["tracks_unconfirmed"] >= 1) == (not plates)
    # Boxes no plate confirmed were no plates: they are not recorded as sightings either.
    assert (len(det["sightings"]) > 0) == bool(plates)
    assert all(s["plate_id"] for s in det["sightings"])


def test_finalize_refuses_tampered_bundle(settings: Settings, plate_clip: Path) -> None:
    upgrade(settings.database_url)
    (settings.raw_root / "t").mkdir(parents=True)
    shutil.copyfile(plate_clip, settings.raw_root / "t" / "a.mp4")
    with session_scope(settings.database_url) as s:
        new = scan(ingest_config(settings), s).new[0]
    run_heavy(heavy_config(settings), new.video_id, new.path)
    with open(settings.work_root / new.video_id / "detections.json", "ab") as f:
        f.write(b" ")
    with pytest.raises(bundle.BundleError, match="do not match the manifest"):
        load_bundle(finalize_config(settings), new.video_id)


def test_heavy_records_a_damaged_clip_as_failed(settings: Settings, plate_clip: Path) -> None:
    upgrade(settings.database_url)
    (settings.raw_root / "t").mkdir(parents=True)
    shutil.copyfile(plate_clip, settings.raw_root / "t" / "a.mp4")
    with session_scope(settings.database_url) as s:
        new = scan(ingest_config(settings), s).new[0]
    (settings.raw_root / new.path).write_bytes(b"")  # damaged after ingest
    res = run_heavy(heavy_config(settings), new.video_id, new.path)
    assert res.status == "failed" and res.error
    m, det = load_bundle(finalize_config(settings), new.video_id)
    assert det is None and set(m["files"]) == set()
    with session_scope(settings.database_url) as s:
        assert apply_bundle(s, new.video_id, m, det).state == State.failed


def test_grouping_votes_across_frames() -> None:
    def o(t: float, text: str | None, c: float) -> Observation:
        return Observation(frame_s=t, box=(0, 0, 100, 30), det_confidence=0.9, text=text, confidence=c)

    obs = [o(0, "KA12BCD", 0.9), o(0.5, "KA12BC0", 0.6), o(1, "KA12BCD", 0.95), o(1.5, None, None),
           o(2, "ZZ99ZZZ", 0.9), o(30, "KA12BCD", 0.9)]
    groups = group_reads(obs, min_confidence=0.5, min_chars=4)
    assert [g.text for g in groups] == ["KA12BCD", "ZZ99ZZZ", "KA12BCD"]  # 30 s later: seen again
    assert groups[0].members == [0, 1, 2] and groups[0].best == 2 and "KA12BC0" in groups[0].alternates


def test_process_command_and_status_json(tmp_path: Path, plate_clip: Path) -> None:
    """`dashcam process` runs the chain in one process; `dashcam status --json` reports it."""
    env = {**os.environ, "DASHCAM_DATA_DIR": str(tmp_path / "data")}
    bad = tmp_path / "in" / "zero.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    good = tmp_path / "in" / plate_clip.name
    shutil.copyfile(plate_clip, good)
    exe = [sys.executable, "-m", "dashcam.cli"]
    p = subprocess.run([*exe, "process", str(tmp_path / "in")], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr  # one file failed
    assert "archived" in p.stdout and "failed" in p.stdout
    p = subprocess.run([*exe, "status", "--json"], env=env, capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(p.stdout)
    assert report["counts"]["archived"] == 1 and report["counts"]["failed"] == 1
    by_path = {v["path"]: v for v in report["videos"]}
    assert by_path["in/zero.mp4"]["error"] and by_path[f"in/{plate_clip.name}"]["error"] is None
    assert set(by_path[f"in/{plate_clip.name}"]) == {"video_id", "path", "state", "stage", "error"}
    assert status_report(env["DASHCAM_DATA_DIR"] and f"sqlite:///{tmp_path}/data/dashcam.db")["counts"]["archived"] == 1


@pytest.mark.parametrize(
    ("rel", "height"), [("videos/garmin_mini2/sample-2.mp4", 540), ("videos/gopro/karma.mp4", 480)]
)
def test_process_real_clip(settings: Settings, rel: str, height: int) -> None:
    """Real dashcam and GoPro clips go through the whole chain (the real-stack e2e test runs one
    real clip; the GoPro moved here to keep the serial stack tests short)."""
    [out] = process_paths(settings, [shared(rel)])
    assert out.state == State.archived
    assert ffprobe_height(settings.archive_root / out.video_id / "video_lowres.mp4") == height  # never upscaled


def test_heavy_aligns_sightings_with_embedded_gps(settings: Settings, plate_clip: Path) -> None:
    """A clip with a GPS track (BlackVue NMEA box, real sentences) gets positions on its sightings."""
    from datetime import UTC, datetime

    from tests.gps_mp4 import add_blackvue

    nmea = shared("gps/gpsbabel_nmea/nmea").read_text().splitlines()[:60]
    stamped = []
    for line in nmea:  # BlackVue prefixes each sentence with the recorder's Unix time in ms
        hhmmss = line.split(",")[1][:6] if line.startswith(("$GPRMC", "$GPGGA")) else "032908"
        when = datetime(2004, 8, 7, int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:6]), tzinfo=UTC)
        stamped.append(f"[{int(when.timestamp() * 1000)}]{line}")
    upgrade(settings.database_url)
    (settings.raw_root / "t").mkdir(parents=True)
    add_blackvue(plate_clip, settings.raw_root / "t" / "20040807_052908_NF.mp4", stamped)
    with session_scope(settings.database_url) as s:
        new = scan(ingest_config(settings), s).new[0]
    run_heavy(heavy_config(settings), new.video_id, new.path)
    m, det = load_bundle(finalize_config(settings), new.video_id)
    with session_scope(settings.database_url) as s:
        apply_bundle(s, new.video_id, m, det, finalize_config(settings))
    with session_scope(settings.database_url) as s:
        v = s.get(Video, new.video_id)
        assert v.has_gps and v.gps_source == "blackvue" and v.clock_offset_s == 7200.0
        assert v.started_at_utc.replace(tzinfo=UTC) == datetime(2004, 8, 7, 3, 29, 8, tzinfo=UTC)
        from models.tables import GpsPoint

        assert s.exec(select(GpsPoint).where(GpsPoint.video_id == v.video_id)).first() is not None
        sightings = s.exec(select(Sighting).where(Sighting.video_id == v.video_id)).all()
        assert sightings and all(x.lat is not None and x.lon is not None for x in sightings)
        assert all(abs(x.lat - sightings[0].lat) < 0.01 for x in sightings)  # one short drive
        assert all(x.time_utc is not None and x.time_utc.year == 2004 for x in sightings)
        plate = s.exec(select(Plate).where(Plate.video_id == v.video_id)).first()
        assert plate.lat is not None and plate.first_seen_utc is not None
        trip = s.get(Trip, v.trip_id)  # figures recomputed with the video
        assert trip.distance_m > 0 and trip.duration_s > 0 and json.loads(trip.track_json)


def test_heavy_without_gps_says_why(settings: Settings, plate_clip: Path) -> None:
    upgrade(settings.database_url)
    [out] = process_paths(settings, [plate_clip])
    with session_scope(settings.database_url) as s:
        v = s.get(Video, out.video_id)
        assert not v.has_gps and v.gps_note and "gps" in v.gps_note.lower()
