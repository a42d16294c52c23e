"""Evidence export (tasks/evidence.py, `dashcam export`, the pages' download): the clip plays,
starts within 1 s of where it should (the first frame *is* the source's frame there), and the
report says what the DB says. Real ffmpeg on real H.264 archival copies, on the demo's DB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlmodel import Session, col, select

from dashboard.seed import seed_demo
from dashcam.settings import Settings
from flows.config import volumes
from models.db import get_engine
from models.tables import Frame, GpsPoint, Plate, Sighting, Video
from tasks import evidence

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
W, H = 320, 180


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo DB; one video's archival copy replaced by one with a keyframe every second and
    AAC audio (what heavy writes for a clip with sound), the others as seeded (one keyframe)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: run `bash infra/setup.sh`")
    root = tmp_path_factory.mktemp("evidence")
    settings = Settings(data_dir=root / "data")
    info = seed_demo(settings.database_url or "", settings.archive_root or root)
    keyed = info["videos"][0]
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={W}x{H}:rate=10:duration=60",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=60", "-c:v", "libx264", "-g", "10",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
         str(volumes(settings).resolve("archive", f"{keyed}/video_lowres.mp4"))],
        check=True, capture_output=True, timeout=120,
    )
    return {**info, "settings": settings, "keyed": keyed, "root": root}


@pytest.fixture
def session(demo: dict[str, Any]) -> Any:
    with Session(get_engine(demo["settings"].database_url)) as s:
        yield s


def _sighting(session: Session, video_id: str, near_s: float) -> Sighting:
    rows = session.exec(select(Sighting).where(Sighting.video_id == video_id)).all()
    return min(rows, key=lambda s: abs(s.frame_s - near_s))


def _frame(path: Path, at_s: float | None = None) -> np.ndarray:
    """One decoded frame as grey pixels: the first, or the one shown at `at_s` (exact seek)."""
    seek = [] if at_s is None else ["-ss", f"{at_s:.3f}"]
    out = subprocess.run([FFMPEG, "-v", "error", *seek, "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{W}x{H}", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(out, np.uint8).reshape(H, W).astype(float)


def _plays(clip: Path) -> float:
    """Every frame decodes without an error; returns the duration ffprobe reports."""
    p = subprocess.run([FFMPEG, "-v", "error", "-i", str(clip), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    return evidence.probe(clip)["duration_s"]


def _starts_at(clip: Path, source: Path, start_s: float) -> None:
    """The clip's first frame is the source's frame at start_s, and not the next second's."""
    first = _frame(clip)
    same = np.mean((first - _frame(source, start_s)) ** 2)
    later = np.mean((first - _frame(source, start_s + 1.0)) ** 2)
    assert same < 8 and later > 5 * max(same, 1), (same, later)


@pytest.mark.parametrize("case", ["stream copy", "re-encoded"])
def test_clip_plays_starts_within_a_second_and_the_report_matches_the_db(
        demo: dict[str, Any], session: Session, tmp_path: Path, case: str) -> None:
    settings = demo["settings"]
    # Keyframes every second: a copy from the one before. One keyframe at 0: re-encoded.
    video_id = demo["keyed"] if case == "stream copy" else demo["videos"][3]
    s = _sighting(session, video_id, 25.7)
    ev = evidence.export(session, volumes(settings), s.id, tmp_path)
    clip, report = ev.files["clip.mp4"], ev.report
    c = report["clip"]
    wanted = s.frame_s - evidence.BEFORE_S
    assert c["method"] == case
    assert wanted - 1.0 <= c["start_s"] <= wanted + 1e-6  # within 1 s, never after
    assert c["end_s"] == pytest.approx(s.frame_s + evidence.AFTER_S)
    # (a copy may keep a few frames past the end that the last ones need to decode)
    assert _plays(clip) == pytest.approx(c["end_s"] - c["start_s"], abs=0.5)
    source = volumes(settings).resolve("archive", f"{video_id}/video_lowres.mp4")
    _starts_at(clip, source, c["start_s"])
    assert c["sighting_at_s"] == pytest.approx(s.frame_s - c["start_s"], abs=1e-3)
    if case == "stream copy":  # the audio came along, untouched
        streams = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type",
                                  "-of", "csv=p=0", str(clip)], capture_output=True, text=True).stdout
        assert streams.split() == ["video", "audio"]

    # The report says what the DB says.
    plate = session.get(Plate, s.plate_id)
    video = session.get(Video, video_id)
    assert plate is not None and video is not None
    p = report["plate"]
    assert (p["text"], p["plate_id"], p["confidence"], p["vehicle"]) == (
        plate.text, plate.plate_id, plate.confidence, plate.vehicle)
    of_plate = session.exec(select(Sighting).where(Sighting.plate_id == plate.plate_id)).all()
    assert p["sightings"] == len(of_plate) == sum(r["frames"] for r in p["reads"])
    assert {a["text"] for a in p["alternates"]} == {x.text for x in of_plate} - {plate.text}
    r = report["sighting"]
    assert r["sighting_id"] == s.id and r["frame_s"] == s.frame_s and r["read"] == s.text
    assert datetime.fromisoformat(r["camera_time"]) == s.seen_at and r["confidence"] == s.confidence
    assert datetime.fromisoformat(r["utc"]) == s.time_utc.replace(tzinfo=UTC)
    assert (r["lat"], r["lon"]) == (s.lat, s.lon)
    in_window = [x.id for x in sorted(of_plate, key=lambda x: x.frame_s)
                 if c["start_s"] <= x.frame_s <= c["end_s"]]
    assert [x["sighting_id"] for x in report["in_clip"]] == in_window
    gps = session.exec(select(GpsPoint).where(
        GpsPoint.video_id == video_id, col(GpsPoint.offset_s) >= c["start_s"] - 1,
        col(GpsPoint.offset_s) <= c["end_s"] + 1)).all()
    assert len(report["positions"]) == len(gps) > 0
    assert report["video"]["video_id"] == video_id and report["video"]["trip_id"] == video.trip_id

    # The files beside it: the archive's crop, the trip's GPX, checksums that hold.
    crop = session.exec(select(Frame).where(Frame.plate_id == plate.plate_id, Frame.kind == "best_crop")).first()
    assert crop is not None
    assert ev.files["best_crop.jpg"].read_bytes() == volumes(settings).resolve("archive", crop.path).read_bytes()
    import gpxpy

    gpx = gpxpy.parse(ev.files["trip.gpx"].read_text())
    trip_points = session.exec(select(GpsPoint).join(Video, col(Video.video_id) == col(GpsPoint.video_id))
                               .where(Video.trip_id == video.trip_id)).all()
    assert sum(len(seg.points) for t in gpx.tracks for seg in t.segments) == len(trip_points)
    for name, meta in report["files"].items():
        assert evidence._sha256(ev.files[name]) == meta["sha256"], name
    assert json.loads(ev.files["report.json"].read_text()) == json.loads(json.dumps(report))
    text = ev.files["report.txt"].read_text()
    assert plate.text in text and case in text and video_id in text


def test_references_name_the_right_sightings(demo: dict[str, Any], session: Session) -> None:
    plates = session.exec(select(Plate).where(Plate.text == "AB123CD")).all()
    by_text = evidence.find_sightings(session, "ab-123 cd")
    assert len(by_text) == len(plates) > 1
    for sid in by_text:  # each plate's most legible sighting
        s = session.get(Sighting, sid)
        assert s is not None
        best = max(session.exec(select(Sighting).where(Sighting.plate_id == s.plate_id)).all(),
                   key=lambda x: (x.confidence or 0, x.det_confidence))
        assert s.confidence == best.confidence
    p = plates[0]
    assert evidence.find_sightings(session, p.plate_id) == [evidence.best_sighting(session, p.plate_id)]
    assert evidence.find_sightings(session, f"S{by_text[0]}") == [by_text[0]]
    assert evidence.find_sightings(session, str(by_text[0])) == [by_text[0]]
    assert evidence.find_sightings(session, "ZZ999") == []
    assert evidence.find_sightings(session, "'; DROP TABLE plate; --") == []


def test_a_video_not_in_the_archive_says_so(demo: dict[str, Any], session: Session, tmp_path: Path) -> None:
    s = _sighting(session, demo["missing_media"], 20)
    with pytest.raises(evidence.EvidenceError, match="video_lowres.mp4 is missing: video .* not archived"):
        evidence.export(session, volumes(demo["settings"]), s.id, tmp_path)


def test_the_dashboard_zip_holds_the_same(demo: dict[str, Any], session: Session, tmp_path: Path) -> None:
    s = _sighting(session, demo["keyed"], 40)
    name, data = evidence.evidence_zip(session, volumes(demo["settings"]), s.id, tmp_path)
    zf = zipfile.ZipFile(__import__("io").BytesIO(data))
    folder = name.removesuffix(".zip")
    assert sorted(zf.namelist()) == sorted(f"{folder}/{n}" for n in
                                           ("clip.mp4", "best_crop.jpg", "trip.gpx", "report.json", "report.txt"))
    report = json.loads(zf.read(f"{folder}/report.json"))
    assert report["sighting"]["sighting_id"] == s.id and report["clip"]["method"] == "stream copy"
    assert list(tmp_path.iterdir()) == []  # the work folder is cleaned up


def test_cli_export(demo: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "DASHCAM_DATA_DIR": str(demo["settings"].data_dir)}
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "dashcam.cli", "export", "WL900AA", "--out", str(out),
                        "--before", "2", "--after", "2"], capture_output=True, text=True, env=env, timeout=300)
    # WL900AA's plate in the video without media fails with its reason; the others are written.
    with Session(get_engine(demo["settings"].database_url)) as s:
        plates = s.exec(select(Plate).where(Plate.text == "WL900AA")).all()
    missing = [pl for pl in plates if pl.video_id == demo["missing_media"]]
    folders = sorted(out.iterdir())
    assert len(folders) == len(plates) - len(missing) > 0, p.stderr
    assert p.returncode == (1 if missing else 0) and "Traceback" not in p.stderr
    for f in folders:
        report = json.loads((f / "report.json").read_text())
        assert report["plate"]["text"] == "WL900AA"
        # 2 s either side, and up to 1 s more before when it starts at a keyframe
        assert 4.0 - 1e-6 <= report["clip"]["end_s"] - report["clip"]["start_s"] <= 5.0 + 1e-6
        assert f.name in p.stdout
    p = subprocess.run([sys.executable, "-m", "dashcam.cli", "export", "QQ000", "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 1 and "no sighting, plate_id or plate text 'QQ000'" in p.stderr
