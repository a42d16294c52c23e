"""Trip figures from GPS points: distance, duration, speeds, a simplified track, harsh events.

Plain functions over (time, lat, lon, speed) points in time order, so the main server can
recompute a trip whenever one of its videos is finalized again (deterministic, replaceable).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tasks.gps import haversine_m


@dataclass(frozen=True)
class Point:
    time: datetime | None  # UTC
    lat: float
    lon: float
    speed_mps: float | None = None


@dataclass(frozen=True)
class TripStats:
    distance_m: float
    duration_s: float
    avg_speed_mps: float | None
    max_speed_mps: float | None


@dataclass(frozen=True)
class Event:
    kind: str  # "harsh_braking" | "harsh_acceleration"
    time: datetime
    lat: float
    lon: float
    value_mps2: float  # the strongest change of speed seen in the event (negative when braking)


def stats(points: Sequence[Point]) -> TripStats:
    dist = sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in zip(points, points[1:], strict=False))
    times = [p.time for p in points if p.time is not None]
    duration = (times[-1] - times[0]).total_seconds() if len(times) >= 2 else 0.0
    speeds = [p.speed_mps for p in points if p.speed_mps is not None]
    return TripStats(
        distance_m=round(dist, 1),
        duration_s=round(duration, 1),
        avg_speed_mps=round(dist / duration, 2) if duration > 0 else None,
        max_speed_mps=round(max(speeds), 2) if speeds else None,
    )


def simplify(points: Sequence[Point], tolerance_m: float = 5.0) -> list[tuple[float, float]]:
    """Douglas-Peucker in a local metric projection: the track drawn on a map, a fraction of the points."""
    if len(points) <= 2:
        return [(p.lat, p.lon) for p in points]
    lat0 = math.radians(points[0].lat)
    xy = [(math.radians(p.lon) * 6371000 * math.cos(lat0), math.radians(p.lat) * 6371000) for p in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:  # iterative: a day of 1 Hz points would blow the recursion limit
        i, j = stack.pop()
        (x1, y1), (x2, y2) = xy[i], xy[j]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        best, far = -1.0, -1
        for k in range(i + 1, j):
            x, y = xy[k]
            d = abs(dy * (x - x1) - dx * (y - y1)) / norm if norm > 0 else math.hypot(x - x1, y - y1)
            if d > best:
                best, far = d, k
        if far != -1 and best > tolerance_m:
            keep[far] = True
            stack += [(i, far), (far, j)]
    return [(round(p.lat, 7), round(p.lon, 7)) for p, k in zip(points, keep, strict=True) if k]


def harsh_events(
    points: Sequence[Point], brake_mps2: float, accel_mps2: float, min_dt_s: float = 0.5
) -> list[Event]:
    """Speed changes beyond the thresholds; consecutive samples of one manoeuvre make one event."""
    timed = [p for p in points if p.time is not None and p.speed_mps is not None]
    events: list[Event] = []
    current: Event | None = None
    for a, b in zip(timed, timed[1:], strict=False):
        dt = (b.time - a.time).total_seconds()  # type: ignore[operator]
        if dt < min_dt_s or dt > 5:  # too close to measure, or a gap in the log
            current = None
            continue
        rate = (b.speed_mps - a.speed_mps) / dt  # type: ignore[operator]
        kind = "harsh_braking" if rate <= -brake_mps2 else "harsh_acceleration" if rate >= accel_mps2 else None
        if kind is None:
            current = None
            continue
        if current is not None and current.kind == kind:
            if abs(rate) > abs(current.value_mps2):
                events[-1] = current = Event(kind, current.time, current.lat, current.lon, round(rate, 2))
            continue
        current = Event(kind, a.time, a.lat, a.lon, round(rate, 2))  # type: ignore[arg-type]
        events.append(current)
    return events
