"""Frame time (seconds from clip start) to position, speed and bearing.

Each fix is placed on the clip's timeline by its `offset_s` (container timing) or, failing
that, by its UTC time minus the clip's UTC start. A frame between two fixes is interpolated
linearly (positions 1 s apart are metres apart: a straight line is exact enough); a frame
before the first or after the last fix holds the nearest fix. Bearing comes from the device
when it gives one (interpolated the short way round, so 359 -> 1 passes through 0), else from
the motion between fixes; a stationary car keeps the last bearing it moved along.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from .clean import haversine_m, initial_bearing_deg
from .model import Aligned, Fix, Track

__all__ = ["align"]

MIN_MOVE_M = 2.0  # below this, two fixes cannot give a meaningful direction


def _angle_lerp(a: float, b: float, frac: float) -> float:
    diff = (b - a + 540.0) % 360.0 - 180.0  # shortest signed turn from a to b
    return (a + frac * diff) % 360.0


def _lon_lerp(a: float, b: float, frac: float) -> float:
    diff = (b - a + 540.0) % 360.0 - 180.0  # across the antimeridian the short way
    out = a + frac * diff
    return (out + 540.0) % 360.0 - 180.0 if abs(out) > 180.0 else out


def _timeline(track: Track, clip_start_utc: datetime | None) -> list[tuple[float, Fix]]:
    points: list[tuple[float, Fix]] = []
    for f in track.fixes:
        if not f.valid or not f.plausible():
            continue
        if f.offset_s is not None:
            t = float(f.offset_s)
        elif f.time is not None and clip_start_utc is not None:
            t = (f.time - clip_start_utc).total_seconds()
        else:
            continue
        if math.isfinite(t):
            points.append((t, f))
    points.sort(key=lambda p: p[0])
    unique: list[tuple[float, Fix]] = []
    for t, f in points:
        if unique and abs(unique[-1][0] - t) < 1e-6:
            continue  # same instant twice: keep the first (clean_track would merge them)
        unique.append((t, f))
    return unique


def _motion_bearings(points: list[tuple[float, Fix]]) -> list[float | None]:
    """Direction of travel for each segment i -> i+1, carried through stops and filled back."""
    out: list[float | None] = []
    last: float | None = None
    for (_, a), (_, b) in zip(points, points[1:], strict=False):
        if haversine_m(a.lat, a.lon, b.lat, b.lon) >= MIN_MOVE_M:
            last = initial_bearing_deg(a.lat, a.lon, b.lat, b.lon)
        out.append(last)
    first = next((b for b in out if b is not None), None)
    return [first if b is None else b for b in out]


def align(
    track: Track,
    offsets_s: Sequence[float],
    clip_start_utc: datetime | None,
    max_gap_s: float = 3.0,
) -> list[Aligned | None]:
    """One `Aligned` per frame offset, or None where no fix can be placed on the clip timeline
    (no usable fixes, or fixes with only UTC times and no clip start to relate them to)."""
    points = _timeline(track, clip_start_utc)
    if not points:
        return [None] * len(offsets_s)
    times = [t for t, _ in points]
    seg_bearing = _motion_bearings(points)
    out: list[Aligned | None] = []
    for q in offsets_s:
        q = float(q)
        if not math.isfinite(q):
            out.append(None)
            continue
        i = bisect.bisect_right(times, q)
        if 0 < i < len(points):  # bracketed: interpolate between fixes i-1 and i
            (ta, a), (tb, b) = points[i - 1], points[i]
            frac = (q - ta) / (tb - ta)
            lat = a.lat + frac * (b.lat - a.lat)
            lon = _lon_lerp(a.lon, b.lon, frac)
            gap = min(q - ta, tb - q)
            if a.speed_mps is not None and b.speed_mps is not None:
                speed: float | None = a.speed_mps + frac * (b.speed_mps - a.speed_mps)
            else:
                speed = a.speed_mps if a.speed_mps is not None else b.speed_mps
                if speed is None:
                    speed = haversine_m(a.lat, a.lon, b.lat, b.lon) / (tb - ta)
            if a.bearing_deg is not None and b.bearing_deg is not None:
                bearing: float | None = _angle_lerp(a.bearing_deg, b.bearing_deg, frac)
            else:
                bearing = a.bearing_deg if a.bearing_deg is not None else b.bearing_deg
                if bearing is None:
                    bearing = seg_bearing[i - 1]
            when = _time_between(q, clip_start_utc, ta, a, tb, b, frac)
        else:  # before the first / after the last fix: hold the nearest one
            t0, f = points[0] if i == 0 else points[-1]
            lat, lon, gap = f.lat, f.lon, abs(q - t0)
            speed = f.speed_mps
            bearing = f.bearing_deg
            if bearing is None and seg_bearing:
                bearing = seg_bearing[0] if i == 0 else seg_bearing[-1]
            when = (
                clip_start_utc + timedelta(seconds=q) if clip_start_utc is not None
                else (f.time + timedelta(seconds=q - t0) if f.time is not None else None)
            )
        out.append(Aligned(lat, lon, speed, bearing, when, gap, gap > max_gap_s))
    return out


def _time_between(q: float, clip_start_utc: datetime | None, ta: float, a: Fix, tb: float, b: Fix,
                  frac: float) -> datetime | None:
    if clip_start_utc is not None:
        return clip_start_utc + timedelta(seconds=q)
    if a.time is not None and b.time is not None:
        return a.time + (b.time - a.time) * frac
    ref, tref = (a, ta) if a.time is not None else (b, tb)
    return ref.time + timedelta(seconds=q - tref) if ref.time is not None else None
