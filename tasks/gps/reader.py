"""`read_track`: the one entry point for "where was this clip recorded".

Order: GPS embedded in the video (cheap box sniffing, see embedded.py), then the sidecar logs
the caller passes (usually `find_sidecars(video)`), matched to this clip:

* 70mai `GPSData*.txt`: rows whose file-name column is this clip (front/rear share a log);
* Kaiser Bass `.dat`: rows whose camera-clock time falls in [clip start, + duration];
* NMEA/GPX named like the clip: the whole file; a day log: the clip's UTC window.

Then the camera clock's offset to UTC is worked out (clean.detect_clock_offset), fixes get
both `offset_s` and `time` where that is now possible, and the track is cleaned.

`clip_start`: naive = the camera clock (what the file name says; taken from the name when
omitted); aware = the true start instant, which also lets camera-clock-only sources (Kaiser
Bass, 70mai `GPS ` box) get UTC times.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tasks.naming import parse_clip_name

from .clean import clean_track, detect_clock_offset
from .embedded import read_embedded
from .model import Fix, GpsReadError, NoGps, Track
from .sidecar import (
    parse_70mai_log,
    parse_kaiserbass_dat,
    read_gpx,
    read_nmea,
    read_text,
    sniff_kind,
)

__all__ = ["read_track"]

EDGE_S = 2.0  # sidecar rows kept beyond the clip ends, so the first/last frame interpolate
DEFAULT_DURATION_S = 600.0  # when nobody says how long the clip is (dashcams: 1-5 min)
_DURATION_IN_NAME = re.compile(r"_(\d{1,5})$")  # Kaiser Bass: <start>_<seconds>.MP4
_CHANNEL = re.compile(r"(?<=\d)[FBRI]$")


def _clip_key(name: str) -> str:
    """70mai log file-name column vs clip name: case-insensitive, no extension, no channel."""
    stem = Path(name.strip()).stem.upper()
    return _CHANNEL.sub("", stem)


def _local_offset_s(camera_time: datetime) -> float:
    """This machine's UTC offset at that wall-clock time: our best prior for a camera clock."""
    try:
        off = camera_time.astimezone().utcoffset()
    except (OverflowError, OSError, ValueError):
        return 0.0
    return off.total_seconds() if off is not None else 0.0


def _window(fixes: list[Fix], lo: datetime, hi: datetime) -> list[Fix]:
    return [f for f in fixes if f.time is not None and lo <= f.time <= hi]


def _utc_log(path: Path, fixes: list[Fix], video: Path, camera_start: datetime | None,
             start_utc: datetime | None, duration: float, source: str) -> Track:
    """An NMEA/GPX log with UTC times: the whole file if it is this clip's, else a window."""
    if Path(path).stem.upper() == video.stem.upper():
        return Track(fixes, source)
    edge = timedelta(seconds=EDGE_S)
    if start_utc is not None:
        picked = _window(fixes, start_utc - edge, start_utc + timedelta(seconds=duration) + edge)
        if not picked:
            raise GpsReadError(f"{path}: no fix between {start_utc:%Y-%m-%d %H:%M:%S} UTC and the clip end")
        return Track(picked, source)
    if camera_start is None:
        raise GpsReadError(f"{path}: a shared log, but {video.name} has no start time to match it by")
    # Unknown timezone: try this machine's offset first, then UTC, then every 15-minute
    # zone by distance from ours; the first that finds fixes over the clip wins.
    local = _local_offset_s(camera_start)
    zones = sorted({local, 0.0, *(q * 900.0 for q in range(-48, 57))},
                   key=lambda z: (z != local, z != 0.0, abs(z - local)))
    cam = camera_start.replace(tzinfo=UTC)
    for zone in zones:
        lo = cam - timedelta(seconds=zone)
        picked = _window(fixes, lo - edge, lo + timedelta(seconds=duration) + edge)
        if len(picked) >= 2:
            return Track(picked, source, camera_clock_offset_s=zone)
    raise GpsReadError(f"{path}: no fixes at the time of {video.name} in any timezone")


def _from_sidecar(path: Path, video: Path, camera_start: datetime | None, start_utc: datetime | None,
                  duration: float) -> Track:
    kind = sniff_kind(path)
    if kind == "70mai-log":
        key = _clip_key(video.name)
        rows = [r for r in parse_70mai_log(read_text(path)) if _clip_key(r.clip) == key]
        if not rows:
            raise GpsReadError(f"{path}: no rows for {video.name}")
        return Track([r.fix for r in rows], "70mai-log")
    if kind == "kaiserbass-dat":
        if camera_start is None:
            raise GpsReadError(f"{path}: {video.name} has no start time to match the log by")
        lo = camera_start - timedelta(seconds=EDGE_S)
        hi = camera_start + timedelta(seconds=duration + EDGE_S)
        picked: list[Fix] = []
        for row in parse_kaiserbass_dat(read_text(path)):
            if lo <= row.camera_time <= hi:
                f = row.fix
                picked.append(Fix(f.time, f.lat, f.lon, f.speed_mps, f.bearing_deg, f.valid,
                                  offset_s=(row.camera_time - camera_start).total_seconds(), alt_m=f.alt_m))
        if not picked:
            raise GpsReadError(f"{path}: no rows between {lo:%H:%M:%S} and {hi:%H:%M:%S} for {video.name}")
        return Track(picked, "kaiserbass-dat")
    if kind == "gpx":
        return _utc_log(path, read_gpx(path), video, camera_start, start_utc, duration, "gpx")
    if kind == "nmea":
        return _utc_log(path, read_nmea(path), video, camera_start, start_utc, duration, "nmea")
    raise GpsReadError(f"{path}: not a GPS log format we know")


def _settle_clock(track: Track, camera_start: datetime | None, start_utc: datetime | None) -> Track:
    """Fill the camera clock offset, then give fixes the offset_s / time they can now have."""
    offset = track.camera_clock_offset_s
    if offset is None and start_utc is not None and camera_start is not None:
        offset = (camera_start - start_utc.replace(tzinfo=None)).total_seconds()
    if offset is None and camera_start is not None:
        offset = detect_clock_offset(track.fixes, camera_start)
    clip_utc = start_utc
    if clip_utc is None and camera_start is not None and offset is not None:
        clip_utc = camera_start.replace(tzinfo=UTC) - timedelta(seconds=offset)
    if clip_utc is None:
        return Track(track.fixes, track.source, offset)
    fixes: list[Fix] = []
    for f in track.fixes:
        off, when = f.offset_s, f.time
        if off is None and when is not None:
            off = (when - clip_utc).total_seconds()
        if when is None and off is not None:
            when = clip_utc + timedelta(seconds=off)
        fixes.append(Fix(when, f.lat, f.lon, f.speed_mps, f.bearing_deg, f.valid, offset_s=off, alt_m=f.alt_m))
    return Track(fixes, track.source, offset)


def read_track(
    video: Path,
    *,
    sidecars: Sequence[Path] = (),
    clip_start: datetime | None = None,
    duration_s: float | None = None,
    clean: bool = True,
) -> Track | NoGps:
    """The clip's GPS track (cleaned unless clean=False), or NoGps saying why there is none.

    Never raises for a bad video or log: every problem becomes part of the NoGps reason.
    """
    video = Path(video)
    name = parse_clip_name(video.name)
    aware = clip_start is not None and clip_start.tzinfo is not None
    camera_start = name.recorded_at if (clip_start is None or aware) else clip_start
    start_utc = clip_start.astimezone(UTC) if aware and clip_start is not None else None
    if duration_s is None and (m := _DURATION_IN_NAME.search(video.stem)):
        duration_s = float(m[1])
    duration = duration_s if duration_s and duration_s > 0 else DEFAULT_DURATION_S

    reasons: list[str] = []
    found = read_embedded(video)
    if isinstance(found, NoGps):
        reasons.append(f"{video.name}: {found.reason}")
    else:
        settled = _settle(found, video, camera_start, start_utc, clean, reasons)
        if settled is not None:
            return settled
    for path in sidecars:
        try:
            candidate = _from_sidecar(Path(path), video, camera_start, start_utc, duration)
        except GpsReadError as exc:
            reasons.append(str(exc))
            continue
        except Exception as exc:  # a parser bug must not take ingest down
            reasons.append(f"{path}: unreadable GPS log ({type(exc).__name__}: {exc})")
            continue
        settled = _settle(candidate, video, camera_start, start_utc, clean, reasons)
        if settled is not None:
            return settled
    if not sidecars:
        reasons.append("no sidecar GPS log given")
    return NoGps("; ".join(reasons))


def _settle(track: Track, video: Path, camera_start: datetime | None, start_utc: datetime | None,
            clean: bool, reasons: list[str]) -> Track | None:
    """Clock-settled (and cleaned) track, or None with the reason noted when nothing is left."""
    if not track.valid_fixes:
        reasons.append(f"{video.name}: no valid fix from {track.source}")
        return None
    try:
        track = _settle_clock(track, camera_start, start_utc)
        cleaned = clean_track(track) if clean else track
    except (ValueError, OverflowError) as exc:  # absurd times from a damaged source
        reasons.append(f"{video.name}: fixes from {track.source} have impossible times ({exc})")
        return None
    if not clean:
        return cleaned
    if not cleaned.fixes:
        reasons.append(f"{video.name}: all {len(track.fixes)} fixes from {track.source} were invalid or impossible")
        return None
    return cleaned
