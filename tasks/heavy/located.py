"""GPS for a clip: frame time to position, and positions on every sighting and plate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tasks.gps import Aligned, NoGps, Track, align, find_sidecars, read_track
from tasks.media import VideoInfo
from tasks.naming import parse_clip_name

log = logging.getLogger(__name__)


def clip_start_utc(track: Track, src: Path) -> datetime | None:
    name = parse_clip_name(src.name)
    if name.recorded_at is not None and track.camera_clock_offset_s is not None:
        return name.recorded_at.replace(tzinfo=UTC) - timedelta(seconds=track.camera_clock_offset_s)
    return None


def gps_lookup(track: Track | NoGps, src: Path) -> Callable[[float], Aligned | None] | None:
    """Frame time -> the GPS position there, None where no fix is near enough to trust."""
    if isinstance(track, NoGps):
        return None
    start_utc = clip_start_utc(track, src)

    def at(t: float) -> Aligned | None:
        [pos] = align(track, [t], start_utc)
        return pos if pos is not None and not pos.approximate else None

    return at


def attach_gps(
    detections: dict[str, Any], src: Path, info: VideoInfo, track: Track | NoGps | None = None
) -> None:
    """The clip's track (embedded or sidecar) and a position for every sighting and plate."""
    if track is None:
        track = read_track(src, sidecars=find_sidecars(src), duration_s=info.duration_s)
    if isinstance(track, NoGps):
        detections["gps"] = {"source": None, "note": track.reason, "points": []}
        log.info("heavy: %s has no GPS: %s", src.name, track.reason)
        return
    start_utc = clip_start_utc(track, src)
    detections["gps"] = {
        "source": track.source,
        "note": None,
        "camera_clock_offset_s": track.camera_clock_offset_s,
        "start_utc": start_utc.isoformat() if start_utc else None,
        "points": [
            {
                "offset_s": f.offset_s,
                "time_utc": f.time.isoformat() if f.time else None,
                "lat": f.lat,
                "lon": f.lon,
                "speed_mps": f.speed_mps,
                "bearing_deg": f.bearing_deg,
            }
            for f in track.valid_fixes
            if f.offset_s is not None
        ],
    }
    rows = detections["sightings"]
    for row, pos in zip(rows, align(track, [r["frame_s"] for r in rows], start_utc), strict=True):
        row.update(_position(pos))
    for plate in detections["plates"]:
        [pos] = align(track, [plate["best_frame_s"]], start_utc)
        plate.update({k: v for k, v in _position(pos).items() if k in ("lat", "lon")})
        first = start_utc + timedelta(seconds=plate["first_seen_s"]) if start_utc else None
        plate["first_seen_utc"] = first.isoformat() if first else None


def _position(pos: Aligned | None) -> dict[str, Any]:
    if pos is None:
        return {}
    return {
        "lat": pos.lat,
        "lon": pos.lon,
        "speed_mps": pos.speed_mps,
        "bearing_deg": pos.bearing_deg,
        "time_utc": pos.time.isoformat() if pos.time else None,
        "gps_gap_s": round(pos.gap_s, 3),
    }
