"""Seeded databases for the dashboard: a small realistic one with media, a large one for the bench."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from models.db import get_engine, upgrade
from models.tables import Frame, GpsPoint, Plate, Sighting, State, Trip, Video

# Known texts the tests look for: a regular, one with confusable letters, one watch target.
DEMO_PLATES = ["AB123CD", "KX5O1ZG", "WL900AA", "HG22BEE", "MN456OP", "TT707TT"]
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
START = datetime(2026, 10, 3, 8, 0, 0)  # camera clock of the first trip
ORIGIN = (52.3702, 4.8952)  # where the seeded routes drive


def _jpeg(text: str, size: tuple[int, int]) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (235, 235, 235))
    ImageDraw.Draw(img).text((4, size[1] // 3), text, fill=(10, 10, 10))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def _tiny_mp4(dest: Path, seconds: int = 60) -> None:
    """A small real H.264 clip (faststart) so st.video and the browser have something to play."""
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x90:rate=5:duration={seconds}",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(dest)],
        check=True, capture_output=True,
    )


def seed_demo(
    database_url: str,
    archive_root: Path | str,
    n_trips: int = 3,
    videos_per_trip: int = 2,
    plates_per_video: int = 4,
    sightings_per_plate: int = 5,
    seed: int = 7,
    media: bool = True,
) -> dict[str, Any]:
    """Create/migrate the DB and fill it with trips, videos (one failed, one without GPS, one
    whose media is missing), GPS routes, plates, sightings, frames, and archive media files.

    Returns a summary the tests use: ids of a video with media, one without, plate texts.
    """
    rnd = random.Random(seed)
    archive = Path(archive_root)
    archive.mkdir(parents=True, exist_ok=True)
    upgrade(database_url)
    clip: Path | None = None
    if media:
        clip = Path(tempfile.mkdtemp()) / "clip.mp4"
        _tiny_mp4(clip)
    now = datetime.now(UTC)
    summary: dict[str, Any] = {"videos": [], "trips": [], "texts": set(), "missing_media": None,
                               "failed": None, "no_gps": None}
    with Session(get_engine(database_url)) as s:
        n_video = 0
        for t in range(n_trips):
            trip_start = START + timedelta(days=t * 2, hours=t)
            trip_id = f"2026{trip_start:%m%d}-{t:02d}"
            s.add(Trip(trip_id=trip_id, folder=f"trip{t}", camera="viofo", started_at=trip_start,
                       ended_at=trip_start + timedelta(minutes=videos_per_trip), video_count=videos_per_trip))
            s.flush()  # no ORM relationships: flush parents before children (foreign keys)
            summary["trips"].append(trip_id)
            for v in range(videos_per_trip):
                n_video += 1
                vid = f"CLIP{n_video:04d}_{rnd.getrandbits(32):08x}"
                rec = trip_start + timedelta(minutes=v)
                utc = rec.replace(tzinfo=UTC) - timedelta(hours=2)
                failed = n_video == 2
                no_gps = n_video == 3
                state = State.failed if failed else State.archived
                video = Video(
                    video_id=vid, path=f"trip{t}/{vid}.MP4", trip_id=trip_id, camera="viofo",
                    recorded_at=rec, size_bytes=1_000_000, duration_s=60.0, fps=30, width=1920,
                    height=1080, codec="h264", has_gps=not no_gps and not failed,
                    gps_source=None if no_gps or failed else "novatek",
                    gps_note="no GPS track in the file" if no_gps else None,
                    started_at_utc=utc, state=state,
                    error="heavy: container truncated (moov atom missing)" if failed else None,
                    ingested_at=now - timedelta(hours=3), processed_at=None if failed else now - timedelta(hours=2),
                    finalized_at=None if failed else now - timedelta(hours=1, minutes=30),
                    archived_at=None if failed else now - timedelta(hours=1),
                )
                s.add(video)
                s.flush()
                summary["videos"].append(vid)
                if failed:
                    summary["failed"] = vid
                    continue
                if no_gps:
                    summary["no_gps"] = vid
                lat0 = ORIGIN[0] + t * 0.02 + v * 0.004
                lon0 = ORIGIN[1] + t * 0.02
                if not no_gps:
                    for k in range(61):
                        s.add(GpsPoint(video_id=vid, offset_s=float(k), time_utc=utc + timedelta(seconds=k),
                                       lat=lat0 + k * 0.00006, lon=lon0 + k * 0.00004, speed_mps=12.0))
                (archive / vid / "plates").mkdir(parents=True, exist_ok=True)
                (archive / vid / "frames").mkdir(parents=True, exist_ok=True)
                missing = n_video == videos_per_trip * n_trips  # the last video's media is absent
                if missing:
                    summary["missing_media"] = vid
                elif clip is not None:
                    shutil.copy(clip, archive / vid / "video_lowres.mp4")
                s.flush()
                for p in range(plates_per_video):
                    text = DEMO_PLATES[(n_video + p) % len(DEMO_PLATES)]
                    summary["texts"].add(text)
                    pid = f"{vid}-p{p}"
                    first = 5.0 + p * 10
                    crop = f"{vid}/plates/{pid}_best_crop.jpg"
                    conf = round(0.6 + 0.39 * rnd.random(), 3)
                    plat = None if no_gps else lat0 + first * 0.00006
                    plon = None if no_gps else lon0 + first * 0.00004
                    s.add(Plate(
                        plate_id=pid, video_id=vid, text=text, confidence=conf,
                        sighting_count=sightings_per_plate, first_seen_s=first,
                        last_seen_s=first + (sightings_per_plate - 1) * 0.5,
                        first_seen_at=rec + timedelta(seconds=first), best_crop=crop,
                        best_frame_s=first + 1, first_seen_utc=utc + timedelta(seconds=first),
                        lat=plat, lon=plon, vehicle="truck" if text == "WL900AA" else "car",
                    ))
                    s.flush()
                    frame_rel = f"{vid}/frames/{pid}_best_frame.jpg"
                    s.add(Frame(video_id=vid, plate_id=pid, kind="best_crop", frame_s=first + 1,
                                path=crop, width=96, height=32))
                    s.add(Frame(video_id=vid, plate_id=pid, kind="best_frame", frame_s=first + 1,
                                path=frame_rel, width=160, height=90))
                    if not missing and media:
                        (archive / crop).write_bytes(_jpeg(text, (96, 32)))
                        (archive / frame_rel).write_bytes(_jpeg(f"frame {text}", (160, 90)))
                    for k in range(sightings_per_plate):
                        fs = first + k * 0.5
                        read = text if k % 3 else text.replace("O", "0").replace("B", "8")
                        s.add(Sighting(
                            video_id=vid, plate_id=pid, frame_s=fs, seen_at=rec + timedelta(seconds=fs),
                            x1=10, y1=10, x2=60, y2=30, det_confidence=0.9, text=read,
                            confidence=round(max(0.3, conf - 0.1 * rnd.random()), 3),
                            time_utc=utc + timedelta(seconds=fs),
                            lat=None if no_gps else lat0 + fs * 0.00006,
                            lon=None if no_gps else lon0 + fs * 0.00004,
                        ))
                video.plate_count = plates_per_video
                video.sighting_count = plates_per_video * sightings_per_plate
                s.add(video)
        s.commit()
    if clip is not None:
        shutil.rmtree(clip.parent, ignore_errors=True)
    summary["texts"] = sorted(summary["texts"])
    return summary


# --------------------------------------------------------------------------- large (bench)

_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ0123456789"


def _random_text(rnd: random.Random) -> str:
    n = rnd.choice((6, 7, 7, 7, 8))
    return "".join(rnd.choice(_LETTERS) for _ in range(n))


def generate_large(
    database_url: str,
    sightings: int = 1_000_000,
    plates: int = 100_000,
    videos: int = 10_000,
    distinct_texts: int = 60_000,
    seed: int = 1,
    batch: int = 50_000,
) -> dict[str, Any]:
    """A big metadata-only archive (no media) for `dashcam bench search`, bulk-inserted.

    Texts repeat (a neighbour's car shows up in many videos), so the Plate page's timeline of
    one text spans videos and trips, as on a real archive.
    """
    rnd = random.Random(seed)
    upgrade(database_url)
    engine = get_engine(database_url)
    texts = [_random_text(rnd) for _ in range(distinct_texts)]
    per_trip = 10
    base = datetime(2025, 1, 1, 7, 0, 0)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
        trip_rows, video_rows = [], []
        for t in range(videos // per_trip):
            start = base + timedelta(hours=6 * t)
            trip_rows.append({"trip_id": f"T{t:06d}", "folder": f"t{t}", "camera": "viofo",
                              "started_at": start, "ended_at": start + timedelta(minutes=per_trip),
                              "video_count": per_trip})
        now = datetime.now(UTC)
        for v in range(videos):
            rec = base + timedelta(hours=6 * (v // per_trip), minutes=v % per_trip)
            video_rows.append({
                "video_id": f"V{v:07d}", "path": f"t/{v}.MP4", "trip_id": f"T{v // per_trip:06d}",
                "camera": "viofo", "kind": "normal", "recorded_at": rec, "size_bytes": 1, "duration_s": 60.0,
                "has_gps": True, "started_at_utc": rec.replace(tzinfo=UTC), "state": "archived",
                "attempts": 1, "ingested_at": now, "updated_at": now,
                "plate_count": plates // videos, "sighting_count": sightings // videos,
            })
        conn.execute(insert(Trip), trip_rows)
        conn.execute(insert(Video), video_rows)
        per_plate = sightings // plates
        prow: list[dict[str, Any]] = []
        srow: list[dict[str, Any]] = []
        for p in range(plates):
            v = p * videos // plates
            rec = video_rows[v]["recorded_at"]
            text = texts[rnd.randrange(distinct_texts)]
            first = rnd.uniform(0, 55)
            lat = 52.0 + rnd.random()
            lon = 4.0 + rnd.random()
            conf = rnd.uniform(0.5, 1.0)
            pid = f"P{p:07d}"
            prow.append({
                "plate_id": pid, "video_id": f"V{v:07d}", "text": text, "confidence": conf,
                "sighting_count": per_plate, "first_seen_s": first, "last_seen_s": first + per_plate * 0.5,
                "first_seen_at": rec + timedelta(seconds=first), "best_crop": f"V{v:07d}/plates/{pid}_best_crop.jpg",
                "first_seen_utc": rec.replace(tzinfo=UTC) + timedelta(seconds=first), "lat": lat, "lon": lon,
            })
            for k in range(per_plate):
                fs = first + 0.5 * k
                srow.append({
                    "video_id": f"V{v:07d}", "plate_id": pid, "frame_s": fs,
                    "seen_at": rec + timedelta(seconds=fs), "x1": 1.0, "y1": 1.0, "x2": 2.0, "y2": 2.0,
                    "det_confidence": 0.9, "text": text, "confidence": conf,
                    "time_utc": rec.replace(tzinfo=UTC) + timedelta(seconds=fs),
                    "lat": lat + k * 1e-5, "lon": lon + k * 1e-5,
                })
            if len(prow) >= batch // 10:
                conn.execute(insert(Plate), prow)
                prow = []
            if len(srow) >= batch:
                conn.execute(insert(Sighting), srow)
                srow = []
        if prow:
            conn.execute(insert(Plate), prow)
        if srow:
            conn.execute(insert(Sighting), srow)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # planner statistics, as a long-lived DB would have
    return {"texts": texts, "plates": plates, "sightings": sightings}
