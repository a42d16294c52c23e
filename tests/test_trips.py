"""Trip figures and events from GPS points (real 70mai drive plus constructed cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.gps import NoGps, read_track
from tasks.trips import Point, harsh_events, simplify, stats
from tests.conftest import shared

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def line(speeds: list[float]) -> list[Point]:
    """Driving north along a meridian at the given speeds, one point a second."""
    pts, lat = [], 50.0
    for i, v in enumerate(speeds):
        pts.append(Point(T0 + timedelta(seconds=i), lat, 20.0, v))
        lat += v / 111_195.0
    return pts


def test_stats_on_a_straight_drive() -> None:
    s = stats(line([20.0] * 61))
    assert abs(s.distance_m - 1200) < 2 and s.duration_s == 60
    assert abs(s.avg_speed_mps - 20) < 0.05 and s.max_speed_mps == 20


def test_simplify_keeps_corners_and_drops_the_straight() -> None:
    pts = line([10.0] * 50)
    corner = pts[-1]
    pts += [Point(corner.time + timedelta(seconds=i), corner.lat, 20.0 + i * 10 / 71_700, 10.0) for i in range(1, 50)]
    kept = simplify(pts, tolerance_m=2.0)
    assert len(kept) == 3 and kept[1] == (round(corner.lat, 7), 20.0)


def test_harsh_braking_and_acceleration_are_single_events() -> None:
    speeds = [20.0] * 5 + [14.0, 8.0, 3.0, 3.0] + [3.0] * 5 + [7.0, 11.0] + [11.0] * 3
    ev = harsh_events(line(speeds), brake_mps2=4.0, accel_mps2=3.5)
    assert [e.kind for e in ev] == ["harsh_braking", "harsh_acceleration"]
    assert ev[0].value_mps2 == -6.0 and ev[0].time == T0 + timedelta(seconds=4)
    assert harsh_events(line([20.0, 18.0, 16.0, 14.0]), brake_mps2=4.0, accel_mps2=3.5) == []


def test_real_70mai_drive() -> None:
    track = read_track(shared("videos/70mai/NO20191130-120156-000121.MP4"))
    assert not isinstance(track, NoGps)
    # The 70mai box has seconds but no UTC: give the points a clock from their offsets.
    pts = [Point(T0 + timedelta(seconds=f.offset_s), f.lat, f.lon, f.speed_mps) for f in track.valid_fixes]
    s = stats(pts)
    # 61 points, one a second, starting at 105 km/h: about a kilometre.
    assert 500 < s.distance_m < 3000 and s.duration_s == 60 and 25 < s.max_speed_mps < 35
    assert s.avg_speed_mps < s.max_speed_mps
    assert 2 <= len(simplify(pts)) < len(pts)
