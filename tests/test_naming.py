"""parse_clip_name: every supported camera's naming scheme, plus names it must survive."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tasks.naming import ClipName, parse_clip_name

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEOS = DATA / "videos"

T = datetime  # brevity in the table below


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Viofo (Novatek): counter + channel, parking/event flags, old 3-digit counters.
        ("2024_0101_120000_00001F.MP4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "F", "normal")),
        ("2024_0101_120000_00002R.mp4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "R", "normal")),
        ("2024_0101_120000_00003I.MP4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "I", "normal")),
        ("2024_0101_120000_00004PF.MP4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "F", "parking")),
        ("2024_0101_120000_00005EF.MP4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "F", "event")),
        ("2024_0101_120000_00006F_E.MP4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "F", "event")),
        ("2024_0101_120000_00007R_P.mp4", ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "R", "parking")),
        ("2019_0815_093512_012.MP4", ClipName("viofo", T(2019, 8, 15, 9, 35, 12), None, "normal")),
        ("2019_0815_093512_F.MOV", ClipName("viofo", T(2019, 8, 15, 9, 35, 12), "F", "normal")),
        # Viofo keeps protected clips in an RO folder: a relative path lets that count.
        ("Movie/RO/2024_0101_120000_00001F.MP4",
         ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "F", "event")),
        ("DCIM\\Parking\\2024_0101_120000_00001R.MP4",
         ClipName("viofo", T(2024, 1, 1, 12, 0, 0), "R", "parking")),
        # 70mai: NO normal, EV event, PA parking, anything else normal; F/B channels.
        ("NO20191130-120156-000121.MP4", ClipName("70mai", T(2019, 11, 30, 12, 1, 56), None, "normal")),
        ("EV20191130-121056-000130.MP4", ClipName("70mai", T(2019, 11, 30, 12, 10, 56), None, "event")),
        ("PA20191130-121556-000135.MP4", ClipName("70mai", T(2019, 11, 30, 12, 15, 56), None, "parking")),
        ("XA20191130-120856-000128.MP4", ClipName("70mai", T(2019, 11, 30, 12, 8, 56), None, "normal")),
        ("no20220101-080000-000001F.mp4", ClipName("70mai", T(2022, 1, 1, 8, 0, 0), "F", "normal")),
        ("EV20220101-080000-000002B.MP4", ClipName("70mai", T(2022, 1, 1, 8, 0, 0), "R", "event")),
        # BlackVue: type letter + channel (+ L/S).
        ("20240112_181119_NF.mp4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "F", "normal")),
        ("20240112_181119_ER.mp4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "R", "event")),
        ("20240112_181119_PF.MP4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "F", "parking")),
        ("20240112_181119_MF.mp4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "F", "event")),
        ("20240112_181119_IR.mp4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "R", "event")),
        ("20240112_181119_OFL.mp4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "F", "event")),
        ("20240112_181119_NIS.mp4", ClipName("blackvue", T(2024, 1, 12, 18, 11, 19), "I", "normal")),
        # Kaiser Bass R50: start time + _duration.
        ("20240112181119_180.MP4", ClipName("kaiserbass", T(2024, 1, 12, 18, 11, 19), None, "normal")),
        ("20240113175916_10.mp4", ClipName("kaiserbass", T(2024, 1, 13, 17, 59, 16), None, "normal")),
        # GoPro and Garmin carry no time in the name.
        ("GH010123.MP4", ClipName("gopro", None, None, "normal")),
        ("GX020045.mp4", ClipName("gopro", None, None, "normal")),
        ("GOPR0001.MP4", ClipName("gopro", None, None, "normal")),
        ("GP010001.MP4", ClipName("gopro", None, None, "normal")),
        ("GL010123.LRV", ClipName("gopro", None, None, "normal")),
        ("GRMN0001.MP4", ClipName("garmin", None, None, "normal")),
        ("grmn0042.mp4", ClipName("garmin", None, None, "normal")),
        # Generic: any embedded timestamp, else nothing.
        ("VID_20240101_120000.mp4", ClipName("generic", T(2024, 1, 1, 12, 0, 0), None, "normal")),
        ("2019-07-15-12-00-00.MP4", ClipName("generic", T(2019, 7, 15, 12, 0, 0), None, "normal")),
        ("REC_2020_01_02_03_04_05_F.MP4", ClipName("generic", T(2020, 1, 2, 3, 4, 5), None, "normal")),
        ("dash 20230405T060708.mov", ClipName("generic", T(2023, 4, 5, 6, 7, 8), None, "normal")),
        ("20240112181119.JPG", ClipName("generic", T(2024, 1, 12, 18, 11, 19), None, "normal")),
        ("karma.mp4", ClipName("generic", None, None, "normal")),
        ("sample-invalid.mp4", ClipName("generic", None, None, "normal")),
    ],
)
def test_known_formats(name: str, expected: ClipName) -> None:
    assert parse_clip_name(name) == expected


@pytest.mark.parametrize("name", ["2024_0101_120000_00001F.mp4", "2024_0101_120000_00001F.Mp4",
                                  "2024_0101_120000_00001F", "2024_0101_120000_00001f.MP4"])
def test_extension_and_case_do_not_matter(name: str) -> None:
    parsed = parse_clip_name(name)
    assert (parsed.camera, parsed.recorded_at, parsed.channel) == (
        "viofo", datetime(2024, 1, 1, 12, 0, 0), "F")


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", ".MP4", "MP4", "/", "\\", "a" * 5000, "\x00.mp4", "🚗🚗.MP4", "   ",
     "2024_1399_999999_00001F.MP4",  # impossible date/time: still Viofo, no time
     "NO20191399-256199-000121.MP4", "99999999_999999_NF.mp4", "99999999999999_180.MP4",
     "00000000_000000_XX.mp4", "20240230_120000.mp4", "GRMN.MP4", "GH01.MP4",
     "../../etc/passwd", "C:\\DCIM\\100GOPRO\\GH010123.MP4", "name.with.many.dots.mp4"],
)
def test_odd_names_never_raise(name: str) -> None:
    parsed = parse_clip_name(name)
    assert parsed.camera in {"viofo", "70mai", "blackvue", "kaiserbass", "garmin", "gopro",
                             "generic"}
    assert parsed.kind in {"normal", "event", "parking"}
    assert parsed.channel in {None, "F", "R", "I"}
    assert parsed.recorded_at is None or parsed.recorded_at.tzinfo is None


def test_impossible_dates_give_no_time_but_keep_the_camera() -> None:
    assert parse_clip_name("2024_1399_999999_00001F.MP4") == ClipName("viofo", None, "F", "normal")
    assert parse_clip_name("NO20191399-256199-000121.MP4").camera == "70mai"
    assert parse_clip_name("NO20191399-256199-000121.MP4").recorded_at is None
    assert parse_clip_name("20240230_120000.mp4").recorded_at is None  # 30 February


def test_windows_path_uses_the_file_name() -> None:
    assert parse_clip_name("C:\\DCIM\\100GOPRO\\GH010123.MP4").camera == "gopro"


def test_real_file_names() -> None:
    """Every real clip in the shared data is recognised as its camera."""
    if not VIDEOS.is_dir():
        pytest.skip(f"real test data not found at {VIDEOS} (expects ../shared/data beside the repo)")
    for f in (VIDEOS / "70mai").glob("*.MP4"):
        parsed = parse_clip_name(f.name)
        assert parsed.camera == "70mai", f.name
        assert parsed.recorded_at is not None and parsed.recorded_at.date() == datetime(2019, 11, 30).date()
    for f in (VIDEOS / "kaiserbass_r50" / "DCIM").rglob("*.MP4"):
        parsed = parse_clip_name(f.name)
        assert parsed.camera == "kaiserbass", f.name
        assert parsed.recorded_at is not None
        # The duration after "_" is the clip length, not part of the time.
        assert parsed.recorded_at.strftime("%Y%m%d%H%M%S") == f.stem.split("_")[0]
