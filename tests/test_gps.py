"""tasks.gps: embedded readers on real camera files, cleaning, alignment and export.

Real files and expected values live in ../shared/data (see its README): ExifTool CSVs beside
the 70mai and GoPro clips. Novatek/BlackVue: test_gps_novatek.py; sidecars: test_gps_sidecar.py.
"""

from __future__ import annotations

import csv
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy
import pytest

from tasks.gps import (
    Aligned,
    Fix,
    NoGps,
    Track,
    align,
    clean_track,
    detect_clock_offset,
    haversine_m,
    read_embedded,
    read_gpx,
    read_track,
    to_csv,
    to_gpx,
    to_json,
)
from tasks.gps.mp4box import list_boxes

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEOS = DATA / "videos"
SEVENTY_MAI = VIDEOS / "70mai"
GOOD_70MAI = "NO20191130-120156-000121.MP4"
GOPRO = VIDEOS / "gopro"
DEG = 1e-6
EPOCH = 1.0
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (../shared/data is beside the repo in CI)")
    return path


def _exiftool_rows(path: Path) -> list[dict[str, str]]:
    """ExifTool -ee CSV rows in stream order (Doc3 < Doc3-1 < Doc3-2 < Doc4)."""
    def order(row: dict[str, str]) -> tuple[int, int]:
        m = re.match(r"Doc(\d+)(?:-(\d+))?", row["doc"])
        assert m
        return int(m[1]), int(m[2] or 0)

    return sorted(csv.DictReader(path.open()), key=order)


def _exiftool_time(text: str) -> float:
    text = text.rstrip("Z")
    base = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    return base.timestamp() + (float("0" + text[19:]) if len(text) > 19 else 0.0)


# --------------------------------------------------------------------------- 70mai


def test_70mai_good_file_matches_exiftool() -> None:
    clip = _need(SEVENTY_MAI / GOOD_70MAI)
    track = read_embedded(clip)
    assert isinstance(track, Track) and track.source == "70mai"
    rows = _exiftool_rows(clip.with_name(clip.stem + ".exiftool13.58_ee.csv"))
    assert len(track.fixes) == len(rows) == 61
    first = track.fixes[0]
    assert abs(first.lat - 52.1905833) < DEG and abs(first.lon - 20.7894833) < DEG
    assert first.speed_mps * 3.6 == pytest.approx(105.33)
    t0 = _exiftool_time(rows[0]["gps_datetime"])
    for fix, row in zip(track.fixes, rows, strict=True):
        assert abs(fix.lat - float(row["lat"])) < DEG and abs(fix.lon - float(row["lon"])) < DEG
        # ExifTool dates the points from mvhd (a 2014 factory default); the box only has the
        # second counter, which must agree with ExifTool's spacing.
        assert abs(fix.offset_s - (_exiftool_time(row["gps_datetime"]) - t0)) < EPOCH
        assert fix.speed_mps * 3.6 == pytest.approx(float(row["speed_as_reported"]), abs=1e-3)
        assert fix.time is None  # no UTC in the box


def test_every_70mai_file_gives_track_or_reason() -> None:
    files = sorted(_need(SEVENTY_MAI).glob("*.MP4"))
    assert len(files) == 36
    outcomes = {}
    for clip in files:
        started = time.monotonic()
        result = read_track(clip)
        assert time.monotonic() - started < 2.0, f"{clip.name} took too long"
        assert isinstance(result, Track | NoGps), clip.name
        if isinstance(result, NoGps):
            assert len(result.reason) > 10 and clip.name in result.reason
        else:
            assert result.fixes and all(f.valid and f.offset_s is not None for f in result.fixes)
            if len(result.fixes) >= 3:  # a lone fuzzed fix cannot be told from a real one
                assert all(abs(f.lat - 52.19) < 0.05 and abs(f.lon - 20.78) < 0.05 for f in result.fixes), clip.name
        outcomes[clip.name] = result
    assert isinstance(outcomes[GOOD_70MAI], Track) and len(outcomes[GOOD_70MAI].fixes) == 61
    reasons = " | ".join(r.reason for r in outcomes.values() if isinstance(r, NoGps))
    assert "not an MP4/MOV file" in reasons and "truncated at byte" in reasons
    assert sum(isinstance(r, Track) for r in outcomes.values()) >= 10  # partly-read files too


def test_fuzzed_copies_never_raise(tmp_path: Path) -> None:
    good = _need(SEVENTY_MAI / GOOD_70MAI).read_bytes()
    rng = random.Random(1234)
    target = tmp_path / GOOD_70MAI
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        target.write_bytes(bytes(data))
        result = read_track(target)
        assert isinstance(result, Track | NoGps)


def test_garmin_clips_have_no_gps_and_invalid_is_rejected() -> None:
    garmin = _need(VIDEOS / "garmin_mini2")
    for name in ("sample-1.mp4", "sample-2.mp4", "sample-3.mp4"):
        result = read_track(garmin / name)
        assert isinstance(result, NoGps) and "no GPS box in the file" in result.reason
    result = read_track(garmin / "sample-invalid.mp4")
    assert isinstance(result, NoGps) and "not an MP4/MOV file" in result.reason


def test_missing_and_empty_files(tmp_path: Path) -> None:
    assert "cannot read" in read_track(tmp_path / "nope.mp4").reason
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in read_track(tmp_path / "empty.mp4").reason


def test_box_walker_bounds(tmp_path: Path) -> None:
    path = tmp_path / "boxes.bin"
    path.write_bytes(b"\0\0\0\x10ftypisom\0\0\0\0" + b"\xff\xff\xff\xf0moov" + b"\0" * 8)
    with path.open("rb") as f:
        boxes, problem = list_boxes(f, 0, path.stat().st_size)
    assert [b.type for b in boxes] == [b"ftyp", b"moov"] and boxes[1].truncated
    assert problem is not None and "truncated" in problem
    path.write_bytes(b"\0\0\0\x04ftyp")
    with path.open("rb") as f:
        boxes, problem = list_boxes(f, 0, 8)
    assert boxes == [] and "impossible size" in problem


# --------------------------------------------------------------------------- GoPro


@pytest.mark.parametrize("name,stream,count", [("karma", "gopro-glpi", 47), ("max-heromode", "gopro-gps5", 191)])
def test_gopro_gpmf_matches_exiftool(name: str, stream: str, count: int) -> None:
    track = read_embedded(_need(GOPRO / f"{name}.mp4"))
    assert isinstance(track, Track) and track.source == stream
    rows = _exiftool_rows(GOPRO / f"{name}.exiftool13.58_ee.csv")
    assert len(track.fixes) == len(rows) == count
    for fix, row in zip(track.fixes, rows, strict=True):
        assert abs(fix.lat - float(row["lat"])) < DEG and abs(fix.lon - float(row["lon"])) < DEG
        assert fix.alt_m == pytest.approx(float(row["alt_m"]), abs=1e-3)
        if row["gps_datetime"]:
            assert abs(fix.time.timestamp() - _exiftool_time(row["gps_datetime"])) < EPOCH
        if row["track_deg"]:
            assert fix.bearing_deg == pytest.approx(float(row["track_deg"]), abs=1e-3)
        if row["speed_as_reported"]:  # ExifTool reports km/h
            assert fix.speed_mps * 3.6 == pytest.approx(float(row["speed_as_reported"]), abs=1e-3)
    offsets = [f.offset_s for f in track.fixes]
    assert offsets == sorted(offsets) and offsets[0] == 0.0 and offsets[-1] < 12.1


def test_gopro_read_track_keeps_both_clocks() -> None:
    track = read_track(_need(GOPRO / "karma.mp4"))
    assert isinstance(track, Track)
    assert track.camera_clock_offset_s is None  # GoPro names carry no time
    assert all(f.time is not None and f.offset_s is not None for f in track.fixes)
    frames = align(track, [0.0, 5.5, 11.0], None)
    assert all(a is not None and not a.approximate for a in frames)


# --------------------------------------------------------------------------- cleaning


def _fix(t: float, lat: float, lon: float, **kw: object) -> Fix:
    return Fix(T0 + timedelta(seconds=t), lat, lon, **kw)  # type: ignore[arg-type]


def test_clean_drops_invalid_merges_duplicates_and_rejects_jumps() -> None:
    step = 0.0002  # ~22 m north per second: 80 km/h
    fixes = [_fix(i, 50.0 + i * step, 8.0, speed_mps=22.0) for i in range(10)]
    fixes[4] = _fix(4, 50.5, 8.0)  # a 55 km spike
    fixes.append(_fix(7, 50.0 + 7 * step, 8.0, bearing_deg=0.0))  # duplicate second, has course
    fixes.append(Fix(T0 + timedelta(seconds=11), 50.1, 8.0, valid=False))  # receiver said void
    fixes.append(_fix(12, 0.0, 0.0))  # null island
    random.Random(3).shuffle(fixes)
    out = clean_track(Track(fixes, "test"))
    assert [int((f.time - T0).total_seconds()) for f in out.fixes] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    seven = out.fixes[6]
    assert seven.bearing_deg == 0.0 and seven.speed_mps == 22.0  # merged extras


def test_clean_survives_a_bad_first_fix_and_keeps_slow_teleports() -> None:
    fixes = [_fix(0, 10.0, 10.0)] + [_fix(i, 50.0 + i * 0.0001, 8.0) for i in range(1, 8)]
    fixes.append(_fix(3600, 50.3, 8.0))  # 33 km in an hour: a tunnel/outage, not a glitch
    out = clean_track(Track(fixes, "test"))
    assert out.fixes[0].lat == pytest.approx(50.0001) and out.fixes[-1].lat == 50.3
    assert len(out.fixes) == 8


def test_clock_offset_detection() -> None:
    first = datetime(2019, 9, 27, 5, 47, 3, tzinfo=UTC)
    fixes = [Fix(first + timedelta(seconds=i), 49.0, -123.0) for i in range(5)]
    assert detect_clock_offset(fixes, datetime(2019, 9, 27, 7, 47, 0)) == 7200.0  # CEST
    assert detect_clock_offset(fixes, datetime(2019, 9, 27, 11, 17, 1)) == 19800.0  # India +5:30
    assert detect_clock_offset(fixes, datetime(2019, 9, 26, 22, 47, 2)) == -25200.0  # PDT
    assert detect_clock_offset(fixes, datetime(2019, 9, 27, 5, 47, 1)) == 0.0  # camera on UTC
    # a clock that is plainly wrong (never set, drifted by minutes) is reported as measured
    assert detect_clock_offset(fixes, datetime(2019, 9, 27, 5, 52, 3)) == 300.0 - 0.0
    assert detect_clock_offset(fixes, datetime(2019, 9, 27, 5, 54, 33)) == 450.0
    # with clip offsets known, the estimate is exact and tolerates only seconds
    exact = [Fix(first + timedelta(seconds=i), 49.0, -123.0, offset_s=i + 1.0) for i in range(5)]
    assert detect_clock_offset(exact, datetime(2019, 9, 27, 7, 47, 2)) == 7200.0
    assert detect_clock_offset(exact, datetime(2019, 9, 27, 7, 47, 40)) == 7238.0
    assert detect_clock_offset([Fix(None, 1, 1)], datetime(2019, 1, 1)) is None


# --------------------------------------------------------------------------- alignment


def _straight(n: int = 5, **kw: object) -> Track:
    return Track([Fix(None, 50.0 + i * 0.0001, 8.0, offset_s=float(i), **kw) for i in range(n)], "t")  # type: ignore[arg-type]


def test_align_interpolates_and_derives_motion() -> None:
    out = align(_straight(), [0.0, 1.5, 4.0], None)
    mid = out[1]
    assert isinstance(mid, Aligned)
    assert mid.lat == pytest.approx(50.00015) and mid.lon == pytest.approx(8.0)
    assert mid.bearing_deg == pytest.approx(0.0, abs=1e-6)  # heading north, from motion
    assert mid.speed_mps == pytest.approx(haversine_m(50.0, 8.0, 50.0001, 8.0), rel=1e-6)
    assert mid.gap_s == pytest.approx(0.5) and not mid.approximate
    assert mid.time is None  # no UTC anywhere
    start = T0
    timed = align(_straight(), [1.5], start)[0]
    assert timed.time == start + timedelta(seconds=1.5)


def test_align_bearing_wraps_through_north() -> None:
    fixes = [Fix(None, 50.0, 8.0, 10.0, 359.0, offset_s=0.0), Fix(None, 50.0001, 8.0, 12.0, 1.0, offset_s=1.0)]
    out = align(Track(fixes, "t"), [0.25, 0.5, 0.75], None)
    assert [round(a.bearing_deg, 6) for a in out] == [359.5, 0.0, 0.5]
    assert out[1].speed_mps == pytest.approx(11.0)


def test_align_gap_flags_and_utc_only_tracks() -> None:
    fixes = [_fix(0, 50.0, 8.0), _fix(1, 50.0001, 8.0), _fix(10, 50.001, 8.0)]
    track = Track(fixes, "nmea")
    assert align(track, [0.5], None) == [None]  # UTC fixes, unknown clip start: cannot place
    out = align(track, [0.5, 5.0, 12.0, -5.0], T0, max_gap_s=3.0)
    assert [a.approximate for a in out] == [False, True, False, True]
    assert out[1].gap_s == pytest.approx(4.0)
    assert out[2].lat == 50.001 and out[2].gap_s == pytest.approx(2.0)  # held after the end
    assert out[3].lat == 50.0 and out[3].time == T0 - timedelta(seconds=5)
    assert align(Track([], "x"), [1.0], T0) == [None]


def test_align_stationary_keeps_last_heading() -> None:
    fixes = [Fix(None, 50.0, 8.0, offset_s=0.0), Fix(None, 50.0, 8.0001, offset_s=1.0),
             Fix(None, 50.0, 8.0001, offset_s=2.0), Fix(None, 50.0, 8.0001, offset_s=3.0)]
    out = align(Track(fixes, "t"), [2.5], None)[0]
    assert out.bearing_deg == pytest.approx(90.0, abs=0.01) and out.speed_mps == pytest.approx(0.0)


def test_align_real_70mai_clip_every_frame() -> None:
    track = read_track(_need(SEVENTY_MAI / GOOD_70MAI))
    assert isinstance(track, Track)
    offsets = [i / 30 for i in range(60 * 30 + 1)]  # 30 fps over the 61 fixes (0..60 s)
    out = align(track, offsets, None)
    assert all(a is not None and not a.approximate for a in out)
    assert 200 < out[0].bearing_deg < 300  # heading west-south-west out of Warsaw
    assert out[-1].gap_s == pytest.approx(0.0, abs=0.04)


# --------------------------------------------------------------------------- export


def _export_track() -> Track:
    return Track([
        Fix(T0, 52.1, 20.7, 10.0, 45.0, alt_m=100.0, offset_s=0.0),
        Fix(T0 + timedelta(milliseconds=1500), 52.1001, 20.7001, None, None, offset_s=1.5),
        Fix(None, 52.1002, 20.7002, 3.0, None, offset_s=2.5),
        Fix(T0, 1.0, 1.0, valid=False),
    ], "test")


def test_json_export_format() -> None:
    rows = json.loads(to_json(_export_track()))
    assert rows[0] == {"time": "2024-05-01T12:00:00Z", "lat": 52.1, "lon": 20.7, "speed_mps": 10.0, "bearing_deg": 45.0}
    assert rows[1]["time"] == "2024-05-01T12:00:01.500Z" and rows[1]["speed_mps"] is None
    assert rows[2]["time"] is None and len(rows) == 3  # invalid fixes are not exported


def test_csv_export() -> None:
    lines = to_csv(_export_track()).splitlines()
    assert lines[0] == "time,offset_s,lat,lon,speed_mps,bearing_deg,alt_m"
    assert lines[1] == "2024-05-01T12:00:00Z,0.0,52.1,20.7,10.0,45.0,100.0"
    assert lines[3].startswith(",2.5,52.1002") and len(lines) == 4


def test_gpx_round_trip() -> None:
    clip = _need(GOPRO / "karma.mp4")
    karma = read_track(clip)
    assert isinstance(karma, Track)
    xml = to_gpx([karma, _export_track()], "drive")
    gpx = gpxpy.parse(xml)
    assert [t.name for t in gpx.tracks] == ["drive 1", "drive 2"]
    points = gpx.tracks[0].segments[0].points
    assert len(points) == len(karma.fixes)
    for p, f in zip(points, karma.fixes, strict=True):
        assert abs(p.latitude - f.lat) < 1e-9 and abs(p.longitude - f.lon) < 1e-9
        assert abs((p.time - f.time).total_seconds()) < 1e-3 and p.elevation == pytest.approx(f.alt_m)
    single = gpxpy.parse(to_gpx(_export_track(), "one"))
    assert single.name == "one" and len(single.tracks[0].segments[0].points) == 3


def test_gpx_speed_course_read_back(tmp_path: Path) -> None:
    # GPX 1.1 has no speed/course elements: they travel in Garmin's extension
    path = tmp_path / "t.gpx"
    path.write_text(to_gpx(_export_track(), "t"))
    back = read_gpx(path)
    assert back[0].speed_mps == pytest.approx(10.0) and back[0].bearing_deg == pytest.approx(45.0)
    assert back[0].time == T0 and back[1].speed_mps is None


def test_multi_gigabyte_file_is_read_by_seeking(tmp_path: Path) -> None:
    # A 3 GiB mdat (sparse: costs no disk) before the 70mai GPS box: reading it whole would
    # take many seconds, seeking over it takes none.
    good = _need(SEVENTY_MAI / GOOD_70MAI).read_bytes()
    gps_at = good.find(b"GPS ") - 4
    mdat_size = 3 << 30
    big = tmp_path / "NO20191130-120156-000121.MP4"
    with big.open("wb") as f:
        f.write(good[:24])  # ftyp
        f.write(b"\0\0\0\x01mdat" + mdat_size.to_bytes(8, "big"))
        f.truncate(24 + mdat_size)
        f.seek(24 + mdat_size)
        f.write(good[gps_at:])
    started = time.monotonic()
    track = read_embedded(big)
    assert time.monotonic() - started < 1.0
    assert isinstance(track, Track) and len(track.fixes) == 61
