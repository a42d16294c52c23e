"""Sidecar GPS logs against what GPSBabel made of the same real files, and clip matching."""

from __future__ import annotations

import csv
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy
import pytest

from tasks.gps import (
    NoGps,
    Track,
    find_sidecars,
    parse_70mai_log,
    parse_kaiserbass_dat,
    parse_nmea_text,
    read_gpx,
    read_nmea,
    read_track,
)
from tasks.gps.sidecar import read_text, sniff_kind

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NMEA = DATA / "gps" / "gpsbabel_nmea"
A810 = DATA / "gps" / "gpsbabel_70mai_A810"
KAISER = DATA / "videos" / "kaiserbass_r50"
DEG = 1e-6
EPOCH = 1.0


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (../shared/data is beside the repo in CI)")
    return path


def _gpx_points(path: Path) -> list:
    return [p for t in gpxpy.parse(path.read_text()).tracks for s in t.segments for p in s.points]


# --------------------------------------------------------------------------- NMEA


def test_nmea_log_matches_gpsbabel_gpx() -> None:
    fixes = read_nmea(_need(NMEA / "nmea"))
    ref = _gpx_points(NMEA / "nmea.gpx")
    assert len(fixes) == len(ref) == 154
    worst = max(max(abs(f.lat - p.latitude), abs(f.lon - p.longitude)) for f, p in zip(fixes, ref, strict=True))
    assert worst < DEG
    assert max(abs((f.time - p.time).total_seconds()) for f, p in zip(fixes, ref, strict=True)) < EPOCH
    assert all(abs(f.alt_m - p.elevation) < 1e-3 for f, p in zip(fixes, ref, strict=True))
    assert all(f.bearing_deg == pytest.approx(p.course, abs=1e-3) for f, p in zip(fixes, ref, strict=True))


def test_nmea_with_milliseconds_and_shuffled_sentences() -> None:
    # 4 Hz receiver; some sentences of an epoch arrive late. GPSBabel pairs a GGA with the next
    # RMC of the same whole second, so each of its points must match one of ours within 1 s.
    fixes = read_nmea(_need(NMEA / "nmea+ms.txt"))
    assert [f.time for f in fixes] == sorted(f.time for f in fixes)
    assert fixes[1].time == datetime(2007, 8, 17, 9, 31, 56, 500000, tzinfo=UTC)
    for p in _gpx_points(NMEA / "nmea+ms.gpx"):
        near = [f for f in fixes if abs((f.time - p.time).total_seconds()) <= EPOCH]
        assert min(max(abs(f.lat - p.latitude), abs(f.lon - p.longitude)) for f in near) < DEG


def test_nmea_odd_time_fields_like_gpsbabel() -> None:
    fixes = read_nmea(_need(NMEA / "nmeadatetime.nmea"))
    rows = list(csv.DictReader((NMEA / "nmeadatetime.csv").open()))
    # GPSBabel writes 00:00:00 where the time field is garbage ("222515.x", ".1"); we drop those.
    # GPSBabel also pairs each GGA with the *next* RMC time (a point it dates 22:25:10.100 has
    # the 22:25:09.000 position), hence the 1.5 s window; positions then agree to the CSV's
    # 6 decimals.
    good = [r for r in rows if r["Time"] != "00:00:00"]
    for r in good:
        when = datetime.strptime(f"{r['Date']} {r['Time'][:8]}", "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
        when += timedelta(seconds=float("0" + r["Time"][8:]))
        near = [f for f in fixes if abs((f.time - when).total_seconds()) <= 1.5]
        assert min(max(abs(f.lat - float(r["Latitude"])), abs(f.lon - float(r["Longitude"]))) for f in near) < DEG
    assert len(fixes) == len(good)
    assert fixes[3].time == datetime(2019, 10, 23, 22, 25, 10, 100000, tzinfo=UTC)  # "222510.1"


def test_nmea_checksums_and_garbage() -> None:
    good = "$GPRMC,112723.000,A,5040.3182,N,00505.9469,E,28.66,138.74,240410,,,A*51"
    assert len(parse_nmea_text(good)) == 1
    assert parse_nmea_text(good.replace("*51", "*52")) == []  # bad checksum: dropped
    assert parse_nmea_text("$GPRMC,,V,,,,,,,,,,N*53\n\x00\xff garbage\n$GPGGA,1,2") == []
    fix = parse_nmea_text(good)[0]
    assert fix.speed_mps == pytest.approx(28.66 * 1852 / 3600) and fix.bearing_deg == pytest.approx(138.74)


# --------------------------------------------------------------------------- GPX


def test_gpx_reader() -> None:
    fixes = read_gpx(_need(NMEA / "nmea.gpx"))
    assert len(fixes) == 154 and fixes[0].time == datetime(2004, 8, 7, 3, 29, 8, 379000, tzinfo=UTC)
    assert fixes[0].speed_mps == pytest.approx(0.083333) and fixes[0].bearing_deg == pytest.approx(138.92, abs=1e-3)
    geotag = read_gpx(_need(DATA / "gps" / "exiftool_geotag" / "Geotag.gpx"))
    assert geotag[0].lat == pytest.approx(43.641) and geotag[0].time == datetime(2003, 5, 24, 17, 10, 5, tzinfo=UTC)


# --------------------------------------------------------------------------- 70mai log


def test_70mai_log_matches_gpsbabel_kml() -> None:
    rows = parse_70mai_log(read_text(_need(A810 / "GPSData000001-A810-Doriel.txt")))
    kml = (A810 / "GPSData000001-A810-Doriel.kml").read_text()
    coords = re.findall(r"<coordinates>(.*?)</coordinates>", kml, re.S)
    spans = re.findall(r"<TimeSpan>\s*<begin>(.*?)</begin>\s*<end>(.*?)</end>", kml)
    sessions: dict[int, list] = {}
    for r in rows:
        if r.fix.valid:
            sessions.setdefault(r.session, []).append(r.fix)
    assert [len(v) for _, v in sorted(sessions.items())] == [len(c.split()) for c in coords] == [1655, 1088, 3940, 455]
    for (_, fixes), block, (begin, end) in zip(sorted(sessions.items()), coords, spans, strict=True):
        for fix, pair in zip(fixes, block.split(), strict=True):
            lon, lat = map(float, pair.split(","))
            assert abs(fix.lat - lat) < DEG and abs(fix.lon - lon) < DEG
        assert fixes[0].time == datetime.fromisoformat(begin)
        assert fixes[-1].time == datetime.fromisoformat(end)
    assert sum(not r.fix.valid for r in rows) == 2  # the two "V" rows with nan longitude


def test_70mai_log_ties_rows_to_a_clip(tmp_path: Path) -> None:
    log = _need(A810 / "GPSData000001-A810-Doriel.txt")
    card = tmp_path / "card"
    (card / "Normal" / "Front").mkdir(parents=True)
    clip = card / "Normal" / "Front" / "NO20250222-064554-000000F.MP4"
    clip.write_bytes(b"\0\0\0\x08free")  # stands in for the (absent) video: no embedded GPS
    shutil.copy(log, card / "GPSData000001.txt")
    sidecars = find_sidecars(clip)
    assert [p.name for p in sidecars] == ["GPSData000001.txt"]
    track = read_track(clip, sidecars=sidecars)
    assert isinstance(track, Track) and track.source == "70mai-log"
    expected = [r.fix for r in parse_70mai_log(read_text(log)) if r.clip == clip.name and r.fix.valid]
    assert len(track.fixes) == len({f.time for f in expected})  # duplicate seconds merged
    # file name 06:45:54 vs first UTC row 20:45:56 the day before: this camera ran 10 h ahead
    assert track.camera_clock_offset_s == 36000.0
    assert track.fixes[0].offset_s == pytest.approx(2.0)
    rear = clip.with_name("NO20250222-064554-000000B.MP4")  # the rear channel shares the log
    rear.write_bytes(b"\0\0\0\x08free")
    assert isinstance(read_track(rear, sidecars=sidecars), Track)
    other = clip.with_name("NO20250101-000000-000999F.MP4")
    other.write_bytes(b"\0\0\0\x08free")
    result = read_track(other, sidecars=sidecars)
    assert isinstance(result, NoGps) and "no rows for" in result.reason


# --------------------------------------------------------------------------- Kaiser Bass


def test_kaiserbass_dat_rows() -> None:
    text = read_text(_need(KAISER / "gps" / "20240112.dat"))
    rows = parse_kaiserbass_dat(text)
    lines = text.replace("#", "\n").split()
    assert len(rows) == len(lines) == 1125  # "#" lines mark camera starts
    first = rows[0]  # 20240112180000,3612.42986,S,14452.10341,E,28.709,117.4
    assert first.camera_time == datetime(2024, 1, 12, 18, 0, 0)
    assert abs(first.fix.lat - -(36 + 12.42986 / 60)) < DEG and abs(first.fix.lon - (144 + 52.10341 / 60)) < DEG
    assert first.fix.speed_mps == pytest.approx(28.709 * 1852 / 3600) and first.fix.alt_m == 117.4
    assert rows[-1].camera_time == datetime(2024, 1, 12, 18, 18, 44)  # its line ends in "#"
    assert sniff_kind(KAISER / "gps" / "20240112.dat") == "kaiserbass-dat"


def test_kaiserbass_clips_matched_by_time() -> None:
    clip = _need(KAISER / "DCIM" / "100video" / "20240112181119_180.MP4")
    sidecars = find_sidecars(clip)
    assert [p.name for p in sidecars] == ["20240112.dat", "20240113.dat"]  # clip date and the next
    track = read_track(clip, sidecars=sidecars)
    assert isinstance(track, Track) and track.source == "kaiserbass-dat"
    rows = {r.camera_time: r.fix for r in parse_kaiserbass_dat(read_text(KAISER / "gps" / "20240112.dat"))}
    start = datetime(2024, 1, 12, 18, 11, 19)
    assert track.fixes[0].offset_s == -2.0 and track.fixes[-1].offset_s == 182.0  # 180 s + edges
    for fix in track.fixes:
        ref = rows[start + timedelta(seconds=fix.offset_s)]
        assert abs(fix.lat - ref.lat) < DEG and abs(fix.lon - ref.lon) < DEG
    # the log has the camera clock only: no UTC unless the caller knows the clip's UTC start
    assert track.camera_clock_offset_s is None and all(f.time is None for f in track.fixes)
    aedt = datetime(2024, 1, 12, 18, 11, 19, tzinfo=UTC) + timedelta(hours=-11)  # 07:11:19Z
    known = read_track(clip, sidecars=sidecars, clip_start=aedt)
    assert isinstance(known, Track) and known.camera_clock_offset_s == 39600.0
    assert known.fixes[2].time == aedt and known.fixes[2].offset_s == 0.0
    snap = KAISER / "DCIM" / "101video" / "20240113175916_10.MP4"
    short = read_track(snap, sidecars=find_sidecars(snap))
    assert isinstance(short, Track) and len(short.fixes) == 15  # 10 s clip + 2 s each side


def test_sidecar_failures_are_reasons(tmp_path: Path) -> None:
    clip = tmp_path / "20240112181119_180.MP4"
    clip.write_bytes(b"\0\0\0\x08free")
    junk = tmp_path / "20240112181119_180.txt"
    junk.write_bytes(b"\x00\x01 not gps at all")
    missing = tmp_path / "nope.gpx"
    result = read_track(clip, sidecars=[junk, missing])
    assert isinstance(result, NoGps)
    assert "not a GPS log format we know" in result.reason and "nope.gpx" in result.reason
    assert "no GPS box" in result.reason


def test_nmea_and_gpx_sidecars_matched_to_a_clip(tmp_path: Path) -> None:
    src = _need(NMEA / "nmea")
    # 1) a per-clip log named like the clip: the whole file is the clip's; the clip's clock
    #    (CEST) is 2 h ahead of the sentences' UTC
    clip = tmp_path / "2004_0807_052908_001F.MP4"
    clip.write_bytes(b"\0\0\0\x08free")
    shutil.copy(src, clip.with_suffix(".NMEA"))
    sidecars = find_sidecars(clip)
    assert [p.name for p in sidecars] == ["2004_0807_052908_001F.NMEA"]
    track = read_track(clip, sidecars=sidecars)
    assert isinstance(track, Track) and track.source == "nmea" and len(track.fixes) == 154
    assert track.camera_clock_offset_s == 7200.0
    assert track.fixes[0].offset_s == pytest.approx(0.379, abs=1e-3)
    # 2) a shared day log (GPX) and a clip whose UTC start the caller knows
    day = tmp_path / "day.gpx"
    shutil.copy(NMEA / "nmea.gpx", day)
    other = tmp_path / "2004_0807_053000_002F.MP4"
    other.write_bytes(b"\0\0\0\x08free")
    start = datetime(2004, 8, 7, 3, 30, 0, tzinfo=UTC)
    part = read_track(other, sidecars=[day], clip_start=start, duration_s=20)
    assert isinstance(part, Track) and part.source == "gpx"
    assert all(-2.5 <= f.offset_s <= 22.5 for f in part.fixes) and len(part.fixes) >= 20
    assert part.camera_clock_offset_s == 7200.0
    # 3) the same day log, timezone unknown: tried zone by zone until fixes cover the clip
    guess = read_track(other, sidecars=[day], duration_s=20)
    assert isinstance(guess, Track) and guess.camera_clock_offset_s == 7200.0
    assert [f.time for f in guess.fixes] == [f.time for f in part.fixes]
