"""Cleaning raw fixes, and working out the camera clock's offset from UTC.

* invalid fixes (device said "no fix", impossible coordinates) are dropped;
* fixes are ordered by time (UTC, else clip offset) and duplicates at the same instant merged;
* impossible jumps are rejected: consecutive fixes implying more than `max_speed_mps`
  (100 m/s = 360 km/h) plus a little GPS jitter. The largest physically consistent run is
  trusted and the track is grown outward from it, so a glitch in the very first fix does not
  condemn everything after it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .model import Fix, Track

__all__ = [
    "MAX_SPEED_MPS",
    "clean_track",
    "detect_clock_offset",
    "haversine_m",
    "initial_bearing_deg",
]

MAX_SPEED_MPS = 100.0
JITTER_M = 20.0  # position noise allowed on top of max speed (10 Hz receivers wander)
EARTH_RADIUS_M = 6_371_008.8
MAX_TZ_S = 14 * 3600  # UTC-12 .. UTC+14


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def initial_bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Course from point 1 towards point 2, degrees clockwise from true north, in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def _key_fn(fixes: Sequence[Fix]) -> Callable[[Fix], float] | None:
    """Order by UTC when every fix has it, else by clip offset, else not at all."""
    if fixes and all(f.time is not None for f in fixes):
        return lambda f: f.time.timestamp()  # type: ignore[union-attr]
    if fixes and all(f.offset_s is not None for f in fixes):
        return lambda f: float(f.offset_s)  # type: ignore[arg-type]
    return None


def _merge(group: list[Fix]) -> Fix:
    """One fix for several at the same instant: mean position, first known extras."""
    if len(group) == 1:
        return group[0]
    first = group[0]

    def pick(attr: str) -> float | None:
        return next((getattr(f, attr) for f in group if getattr(f, attr) is not None), None)

    return Fix(
        first.time,
        statistics.fmean(f.lat for f in group),
        statistics.fmean(f.lon for f in group),
        pick("speed_mps"),
        pick("bearing_deg"),
        True,
        offset_s=first.offset_s if first.offset_s is not None else pick("offset_s"),
        alt_m=pick("alt_m"),
    )


def _consistent(a: Fix, b: Fix, key: Callable[[Fix], float], max_speed: float) -> bool:
    dt = abs(key(b) - key(a))
    return haversine_m(a.lat, a.lon, b.lat, b.lon) <= max_speed * dt + JITTER_M


def _reject_jumps(fixes: list[Fix], key: Callable[[Fix], float], max_speed: float) -> list[Fix]:
    if len(fixes) < 2:
        return fixes
    # runs of mutually consistent consecutive fixes; the longest is our anchor
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(fixes)):
        if not _consistent(fixes[i - 1], fixes[i], key, max_speed):
            runs.append((start, i))
            start = i
    runs.append((start, len(fixes)))
    a, b = max(runs, key=lambda r: (r[1] - r[0], -r[0]))
    kept = fixes[a:b]
    last = kept[-1]
    after: list[Fix] = []
    for f in fixes[b:]:  # grow forward from the anchor, each fix checked against the last kept
        if _consistent(last, f, key, max_speed):
            after.append(f)
            last = f
    first = kept[0]
    before: list[Fix] = []
    for f in reversed(fixes[:a]):  # and backward
        if _consistent(f, first, key, max_speed):
            before.append(f)
            first = f
    return list(reversed(before)) + kept + after


def clean_track(track: Track, *, max_speed_mps: float = MAX_SPEED_MPS) -> Track:
    """Valid, ordered, de-duplicated fixes without impossible jumps (a new Track)."""
    fixes = [f for f in track.fixes if f.valid and f.plausible()]
    key = _key_fn(fixes)
    if key is not None:
        fixes.sort(key=key)
        merged: list[Fix] = []
        group: list[Fix] = []
        for f in fixes:
            if group and abs(key(f) - key(group[0])) > 1e-3:
                merged.append(_merge(group))
                group = []
            group.append(f)
        if group:
            merged.append(_merge(group))
        fixes = _reject_jumps(merged, key, max_speed_mps)
    return Track(fixes, track.source, track.camera_clock_offset_s)


def _as_utc(naive_or_aware: datetime) -> datetime:
    """Treat a camera-clock time as if it were UTC, for arithmetic against real UTC."""
    return naive_or_aware.replace(tzinfo=UTC) if naive_or_aware.tzinfo is None else naive_or_aware


def detect_clock_offset(
    fixes: Sequence[Fix], clip_start_camera: datetime, *, tolerance_s: float | None = None
) -> float | None:
    """Camera clock minus UTC, in seconds, or None when no fix has a UTC time.

    With fixes that know their clip offset (GoPro, 70mai-with-UTC), each gives an exact
    estimate and we take the median; otherwise the first fix is assumed to be near the clip
    start (a few seconds of GPS latency). A result within `tolerance_s` of a multiple of 15
    minutes is a timezone and is rounded to it; anything else is a clock that is simply wrong
    (drift, never set) and is returned as measured.
    """
    timed = [f for f in fixes if f.valid and f.time is not None]
    if not timed:
        return None
    start = _as_utc(clip_start_camera)
    exact = [
        (start - f.time).total_seconds() + float(f.offset_s)  # type: ignore[operator]
        for f in timed
        if f.offset_s is not None
    ]
    if exact:
        raw = statistics.median(exact)
        tol = 10.0 if tolerance_s is None else tolerance_s
    else:
        raw = (start - min(f.time for f in timed)).total_seconds()  # type: ignore[type-var]
        tol = 120.0 if tolerance_s is None else tolerance_s
    zone = round(raw / 900.0) * 900.0
    if abs(raw - zone) <= tol and abs(zone) <= MAX_TZ_S:
        return zone
    return round(raw, 3)
