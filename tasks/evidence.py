"""Evidence of a sighting: a short clip around it cut from the archival copy, and a report beside
it (plate text and the other reads, confidences, camera and UTC times, positions, the best crop,
the trip's GPX), for the police, an insurer or a neighbour.

Plain Python over a DB session and the archive volume: the dashboard's Video and Plate pages and
`dashcam export` both call it.

The clip is stream-copied (no quality lost, ~0.1 s) when a keyframe lies at most
`COPY_WITHIN_S` before the wanted start; otherwise it is re-encoded from the wanted start
(frame-exact; archival copies carry a keyframe every few seconds at most, x264's default being
up to 250 frames apart). Either way the report says which, and the clip's first frame is the
source's frame at `clip.start_s`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.tables import GpsPoint, Plate, Sighting, Trip, Video
from tasks.gps.export import iso_utc
from tasks.trip_gps import trip_gpx
from tasks.volumes import Volumes

BEFORE_S = 5.0
AFTER_S = 5.0
COPY_WITHIN_S = 1.0  # a stream copy may start this much before the wanted start, no more
MAX_TARGETS = 20  # sightings exported for one plate text (one per plate row, newest first)
_NON_PLATE = re.compile(r"[^A-Z0-9]")


class EvidenceError(Exception):
    """What went wrong, with which file or row, and what to do."""


@dataclass
class Evidence:
    sighting_id: int
    folder: Path | None  # where the files are (None: only in memory, see evidence_zip)
    files: dict[str, Path] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- which sightings


def find_sightings(session: Session, ref: str, limit: int = MAX_TARGETS) -> list[int]:
    """Sightings a reference names: a sighting id (`123` or `S123`), a plate_id (its best
    sighting), or a plate text (the best sighting of each plate with that text, newest first)."""
    ref = ref.strip()
    digits = ref[1:] if ref[:1] in ("S", "s") and ref[1:].isdigit() else ref
    if digits.isdigit() and session.get(Sighting, int(digits)) is not None:
        return [int(digits)]
    plates: list[Plate] = []
    if plate := session.get(Plate, ref):
        plates = [plate]
    else:
        text = _NON_PLATE.sub("", ref.upper())
        if text:
            plates = list(session.exec(
                select(Plate).where(Plate.text == text)
                .order_by(col(Plate.first_seen_at).desc()).limit(limit)
            ).all())
    out = []
    for p in plates:
        if (best := best_sighting(session, p.plate_id)) is not None:
            out.append(best)
    return out


def best_sighting(session: Session, plate_id: str) -> int | None:
    """The plate's most legible moment: highest OCR confidence, then detector confidence."""
    row = session.exec(
        select(Sighting.id).where(Sighting.plate_id == plate_id)
        .order_by(col(Sighting.confidence).desc().nulls_last(), col(Sighting.det_confidence).desc(),
                  col(Sighting.frame_s))
        .limit(1)
    ).first()
    return row


# --------------------------------------------------------------------------- the clip


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EvidenceError(f"{name} is not installed: run `bash infra/setup.sh` (it installs ffmpeg)")
    return path


def keyframes(video: Path) -> list[float]:
    """Presentation times of the video stream's keyframes (packets only: nothing is decoded)."""
    p = subprocess.run(
        [_tool("ffprobe"), "-v", "error", "-select_streams", "v:0",
         "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, timeout=300,
    )
    if p.returncode != 0:
        raise EvidenceError(f"ffprobe could not read {video}: {p.stderr.strip()[-300:]}")
    out = []
    for line in p.stdout.splitlines():
        t, _, flags = line.partition(",")
        if "K" in flags and t not in ("", "N/A"):
            out.append(float(t))
    return sorted(out)


def probe(video: Path) -> dict[str, Any]:
    """Duration, first frame time and codec of a file (what the report states about the clip)."""
    p = subprocess.run(
        [_tool("ffprobe"), "-v", "error", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height,start_time:format=duration",
         "-of", "json", str(video)],
        capture_output=True, text=True, timeout=120,
    )
    if p.returncode != 0:
        raise EvidenceError(f"ffprobe could not read {video}: {p.stderr.strip()[-300:]}")
    info = json.loads(p.stdout)
    streams = info.get("streams") or [{}]
    return {
        "codec": streams[0].get("codec_name"), "width": streams[0].get("width"),
        "height": streams[0].get("height"),
        "start_time_s": float(streams[0].get("start_time") or 0.0),
        "duration_s": float(info.get("format", {}).get("duration") or 0.0),
    }


def cut_clip(source: Path, dest: Path, start_s: float, end_s: float) -> dict[str, Any]:
    """`dest`: the source from about `start_s` to `end_s`. Returns how: the real start (never
    later than `start_s`, at most COPY_WITHIN_S earlier) and the method."""
    if end_s <= start_s:
        raise EvidenceError(f"nothing to cut from {source}: {start_s:.2f}-{end_s:.2f} s is empty")
    before = [k for k in keyframes(source) if k <= start_s + 1e-3]
    key = before[-1] if before else None
    copy = key is not None and start_s - key <= COPY_WITHIN_S
    begin = key if copy and key is not None else start_s
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp.mp4")
    # A copy seeks to the keyframe's own time, a hair below it: ffmpeg drops copied frames
    # before the seek point (1 ms late lost the keyframe's frame), and rounds the seek point to
    # the stream's ticks (11-100 us), so 1 us below still finds this keyframe, not the one before.
    seek = f"{math.floor(begin * 1e6 - 1) / 1e6:.6f}" if copy else f"{begin:.3f}"
    cmd = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-ss", seek, "-i", str(source),
           "-t", f"{end_s - begin:.3f}", "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"]
    if copy:  # (the mp4 muxer's edit list puts the first frame at 0; shifting made it 0.2 s)
        cmd += ["-c", "copy"]
    else:  # frame-exact from the wanted start: decoded from the keyframe before, re-encoded
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "96k"]
    cmd += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            raise EvidenceError(f"ffmpeg could not cut {source} at {begin:.2f}-{end_s:.2f} s: "
                                f"{p.stderr.strip()[-400:] or 'no output'}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return {"method": "stream copy" if copy else "re-encoded", "start_s": round(begin, 3),
            "end_s": round(end_s, 3), "keyframe_before_s": key, **probe(dest)}


# --------------------------------------------------------------------------- the report


def _when(base: datetime | None, offset_s: float) -> datetime | None:
    return None if base is None else base + timedelta(seconds=offset_s)


def _iso_camera(t: datetime | None) -> str | None:
    return None if t is None else t.replace(tzinfo=None).isoformat(timespec="milliseconds")


def _reads(sightings: list[Sighting]) -> list[dict[str, Any]]:
    """What OCR read frame by frame: each text, how often, its mean confidence."""
    acc: dict[str, list[float]] = {}
    for s in sightings:
        acc.setdefault(s.text or "", []).append(s.confidence or 0.0)
    rows = [{"text": t or None, "frames": len(c), "mean_confidence": round(sum(c) / len(c), 4)}
            for t, c in acc.items()]
    return sorted(rows, key=lambda r: (-r["frames"], -r["mean_confidence"]))


def _sighting_row(s: Sighting) -> dict[str, Any]:
    return {
        "sighting_id": s.id, "frame_s": s.frame_s, "camera_time": _iso_camera(s.seen_at),
        "utc": iso_utc(s.time_utc), "read": s.text, "confidence": s.confidence,
        "detector_confidence": s.det_confidence, "box_xyxy": [s.x1, s.y1, s.x2, s.y2],
        "lat": s.lat, "lon": s.lon, "speed_mps": s.speed_mps, "bearing_deg": s.bearing_deg,
        "gps_gap_s": s.gps_gap_s,
    }


def build_report(session: Session, sighting_id: int, clip: dict[str, Any] | None,
                 before_s: float = BEFORE_S, after_s: float = AFTER_S) -> dict[str, Any]:
    """Everything the DB knows about the sighting and the moments around it."""
    s = session.get(Sighting, sighting_id)
    if s is None:
        raise EvidenceError(f"there is no sighting {sighting_id} in the app database")
    v = session.get(Video, s.video_id)
    if v is None:  # a foreign key makes this impossible on a sound database
        raise EvidenceError(f"sighting {sighting_id} names video {s.video_id}, which is missing")
    plate = session.get(Plate, s.plate_id) if s.plate_id else None
    trip = session.get(Trip, v.trip_id) if v.trip_id else None
    window = ((clip["start_s"], clip["end_s"]) if clip
              else (max(0.0, s.frame_s - before_s), s.frame_s + after_s))
    of_plate = list(session.exec(
        select(Sighting).where(Sighting.plate_id == s.plate_id).order_by(col(Sighting.frame_s))
    ).all()) if s.plate_id else [s]
    track = session.exec(
        select(GpsPoint).where(GpsPoint.video_id == v.video_id,
                               col(GpsPoint.offset_s) >= window[0] - 1, col(GpsPoint.offset_s) <= window[1] + 1)
        .order_by(col(GpsPoint.offset_s))
    ).all()
    reads = _reads(of_plate)
    text = plate.text if plate else s.text
    report: dict[str, Any] = {
        "plate": {
            "text": text, "plate_id": s.plate_id,
            "confidence": plate.confidence if plate else s.confidence,
            "alternates": [r for r in reads if r["text"] != text], "reads": reads,
            "vehicle": plate.vehicle if plate else None, "formats": plate.region if plate else None,
            "sightings": len(of_plate), "first_seen_s": plate.first_seen_s if plate else s.frame_s,
            "last_seen_s": plate.last_seen_s if plate else s.frame_s,
        },
        "sighting": _sighting_row(s),
        "in_clip": [_sighting_row(x) for x in of_plate if window[0] <= x.frame_s <= window[1]],
        "video": {
            "video_id": v.video_id, "camera": v.camera, "channel": v.channel, "file": v.path,
            "recorded_camera_clock": _iso_camera(v.recorded_at), "started_utc": iso_utc(v.started_at_utc),
            "camera_clock_minus_utc_s": v.clock_offset_s, "duration_s": v.duration_s,
            "gps_source": v.gps_source, "gps_note": v.gps_note, "state": v.state,
            "trip_id": v.trip_id,
        },
        "trip": None if trip is None else {
            "trip_id": trip.trip_id, "started_camera_clock": _iso_camera(trip.started_at),
            "distance_m": trip.distance_m, "videos": trip.video_count,
        },
        "positions": [{"offset_s": p.offset_s, "utc": iso_utc(p.time_utc), "lat": p.lat, "lon": p.lon,
                       "speed_mps": p.speed_mps, "bearing_deg": p.bearing_deg} for p in track],
        "times": "camera clock as the camera wrote it (usually local time, no zone); UTC from GPS",
    }
    if clip is not None:
        report["clip"] = {
            **clip, "sighting_at_s": round(s.frame_s - clip["start_s"], 3),
            "start_camera_clock": _iso_camera(_when(v.recorded_at, clip["start_s"])),
            "start_utc": iso_utc(_when(v.started_at_utc, clip["start_s"])),
            "end_utc": iso_utc(_when(v.started_at_utc, clip["end_s"])),
        }
    return report


def report_text(report: dict[str, Any]) -> str:
    """The report for a person: the few lines that matter, then where the rest is."""
    p, s, v, c = report["plate"], report["sighting"], report["video"], report.get("clip")
    alt = ", ".join(f"{a['text'] or '(unread)'} ×{a['frames']}" for a in p["alternates"]) or "none"
    lines = [
        f"Plate {p['text']} (confidence {p['confidence']:.2f}; other reads: {alt})",
        f"Seen {s['camera_time'] or '?'} camera clock, {s['utc'] or 'UTC unknown (no GPS)'}",
        f"At {s['lat']:.6f}, {s['lon']:.6f}" if s["lat"] is not None else "Position unknown (no GPS)",
        f"Video {v['video_id']} ({v['camera']}, file {v['file']}) at {s['frame_s']:.2f} s; "
        f"trip {v['trip_id'] or '-'}",
    ]
    if c:
        lines.append(f"Clip clip.mp4: {c['start_s']:.2f}-{c['end_s']:.2f} s of the video "
                     f"({c['method']}), the sighting {c['sighting_at_s']:.2f} s in")
    lines.append("Every sighting, position and checksum: report.json. Times: " + report["times"] + ".")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- putting it together


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_name(report: dict[str, Any]) -> str:
    s = report["sighting"]
    return f"{report['plate']['text'] or 'unread'}_{report['video']['video_id']}_{s['frame_s']:.1f}s"


def export(session: Session, config: Volumes, sighting_id: int, out_dir: Path,
           before_s: float = BEFORE_S, after_s: float = AFTER_S) -> Evidence:
    """Write clip.mp4, best_crop.jpg, trip.gpx, report.json and report.txt into
    `out_dir/<plate>_<video>_<t>s/` and return them."""
    s = session.get(Sighting, sighting_id)
    if s is None:
        raise EvidenceError(f"there is no sighting {sighting_id} in the app database")
    v = session.get(Video, s.video_id)
    assert v is not None
    source = config.resolve("archive", f"{v.video_id}/video_lowres.mp4")
    if not source.is_file():
        raise EvidenceError(
            f"the archival copy {source} is missing: video {v.video_id} is {v.state}, not archived "
            "yet (wait for the pipeline), or the archive volume is not mounted here "
            f"(DASHCAM_ARCHIVE_ROOT={config.archive_root})")
    end = s.frame_s + after_s
    if v.duration_s:
        end = min(end, v.duration_s)
    provisional = build_report(session, sighting_id, None, before_s, after_s)
    folder = Path(out_dir) / folder_name(provisional)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    clip = cut_clip(source, folder / "clip.mp4", max(0.0, s.frame_s - before_s), max(end, s.frame_s + 0.5))
    files["clip.mp4"] = folder / "clip.mp4"
    report = build_report(session, sighting_id, clip, before_s, after_s)
    plate = session.get(Plate, s.plate_id) if s.plate_id else None
    if plate is not None and plate.best_crop:
        try:
            crop = config.resolve("archive", plate.best_crop)
        except ValueError:
            crop = None
        if crop is not None and crop.is_file():
            shutil.copyfile(crop, folder / "best_crop.jpg")
            files["best_crop.jpg"] = folder / "best_crop.jpg"
    if v.trip_id and (gpx := trip_gpx(session, v.trip_id)):
        (folder / "trip.gpx").write_text(gpx)
        files["trip.gpx"] = folder / "trip.gpx"
    report["files"] = {name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for name, p in files.items()}
    (folder / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (folder / "report.txt").write_text(report_text(report))
    files["report.json"] = folder / "report.json"
    files["report.txt"] = folder / "report.txt"
    return Evidence(sighting_id, folder, files, report)


def evidence_zip(session: Session, config: Volumes, sighting_id: int, work_dir: Path,
                 before_s: float = BEFORE_S, after_s: float = AFTER_S) -> tuple[str, bytes]:
    """(file name, bytes) of a zip of the export, for a browser download."""
    ev = export(session, config, sighting_id, work_dir, before_s, after_s)
    assert ev.folder is not None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in ev.files.items():
            # The clip is already compressed: stored, not deflated again.
            z.write(path, f"{ev.folder.name}/{name}",
                    compress_type=zipfile.ZIP_STORED if name.endswith(".mp4") else zipfile.ZIP_DEFLATED)
    shutil.rmtree(ev.folder, ignore_errors=True)
    return f"{ev.folder.name}.zip", buf.getvalue()
