"""Novatek `freeGPS ` and BlackVue readers, on real MP4 containers built from real bytes.

Expected values come from ../shared/data/videos/novatek_vectors (mapillary_tools' vectors,
which match ExifTool, and real block dumps quoted in ExifTool) and, for BlackVue, from the
GPX that GPSBabel wrote for the same real NMEA sentences.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import gpxpy
import pytest

from tasks.gps import NoGps, Track, parse_freegps_block, parse_gps_index, read_embedded, read_track
from tests.gps_mp4 import add_blackvue, add_novatek, freegps_block, hexdumps, make_mp4

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VECTORS = DATA / "videos" / "novatek_vectors"
DEG = 1e-6  # required accuracy in degrees
EPOCH = 1.0  # required accuracy in seconds


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (../shared/data is beside the repo in CI)")
    return path


@pytest.fixture(scope="module")
def dumps() -> dict[int, bytes]:
    return hexdumps(_need(VECTORS / "exiftool_freegps_hexdumps.txt").read_text())


@pytest.fixture(scope="module")
def base_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("mp4") / "base.mp4")


# --------------------------------------------------------------------------- block builders
# Layouts exactly as mapillary_novatek_expected_values.md describes them.


def viofo_block(hms: tuple[int, int, int], ymd: tuple[int, int, int], lat: float, lat_ref: str,
                lon: float, lon_ref: str, knots: float, track: float) -> bytes:
    body = bytearray(0x100 - 12)  # offsets below are block offsets; body starts at 12
    struct.pack_into("<6I", body, 16 - 12, *hms, *ymd)
    body[0x28 - 12:0x2C - 12] = b"A" + lat_ref.encode() + lon_ref.encode() + b"\0"
    struct.pack_into("<4f", body, 0x2C - 12, lat, lon, knots, track)
    return freegps_block(bytes(body))


def vantrue_block(hms: tuple[int, int, int], ymd: tuple[int, int, int], lat: float, lat_ref: str,
                  lon: float, lon_ref: str, knots: float, track: float) -> bytes:
    body = bytearray(0x100 - 12)
    struct.pack_into("<3I", body, 16 - 12, *hms)
    body[28 - 12] = ord("A")
    struct.pack_into("<d", body, 32 - 12, lat)
    body[40 - 12] = ord(lat_ref)
    struct.pack_into("<d", body, 48 - 12, lon)
    body[56 - 12] = ord(lon_ref)
    struct.pack_into("<2d3I", body, 64 - 12, knots, track, *ymd)
    return freegps_block(bytes(body))


def azdome_block(stamp: str, lat: str, lon: str) -> bytes:
    plain = (b"\0\0XKZD\xfe\xfe" + stamp.encode() + b"\x0c5567GP   \0\0\0\0\0\x03"
             + lat.encode() + lon.encode() + b"00000007")
    body = b"\x05\x01\x00\x00\x01\x03" + bytes(c ^ 0xAA for c in plain)  # bytes 12..17 as dumped
    return freegps_block(body)


VIOFO = [  # (block, lat, lon, course, epoch)
    (viofo_block((5, 47, 3), (19, 9, 27), 4922.143, "N", 12305.985, "W", 26.3, 16.49),
     49.3690511067708, -123.099755859375, 16.4899997711182, 1569563223.0),
    (viofo_block((5, 47, 4), (19, 9, 27), 4922.155, "N", 12305.995, "W", 26.3, 16.5),
     49.3692464192708, -123.099918619792, 16.5, 1569563224.0),
]
VANTRUE = [
    (vantrue_block((13, 22, 30), (22, 12, 14), 4721.35197, "N", 830.80859, "E", 22.519, 199.88),
     47.3558661666667, 8.5134765, 199.88, 1671024150.0),
    (vantrue_block((13, 22, 31), (22, 12, 14), 4721.3524, "N", 830.8082, "E", 22.519, 198.5),
     47.3558733333333, 8.51347, 198.5, 1671024151.0),
]
AZDOME = [
    (azdome_block("20180924224928", "N40464350", "W007040308"), 40.7739166666667, -7.06718, None, 1537829368.0),
    (azdome_block("20180924224929", "N40464355", "W007040310"), 40.773925, -7.06718333333333, None, 1537829369.0),
]


@pytest.mark.parametrize("cases", [VIOFO, VANTRUE, AZDOME], ids=["viofo-a129", "vantrue-n4", "azdome"])
def test_block_decoding_matches_published_vectors(cases: list) -> None:
    _need(VECTORS / "mapillary_novatek_expected_values.md")
    for block, lat, lon, course, epoch in cases:
        fix = parse_freegps_block(block)
        assert fix is not None and fix.valid
        assert abs(fix.lat - lat) < DEG and abs(fix.lon - lon) < DEG
        assert fix.time is not None and abs(fix.time.timestamp() - epoch) < EPOCH
        if course is None:
            assert fix.bearing_deg is None
        else:
            assert fix.bearing_deg == pytest.approx(course, abs=1e-4)


def test_real_camera_dumps_decode(dumps: dict[int, bytes]) -> None:
    # Viofo A119 V3 (ExifTool dump at line 1782) is the same block as the first A129 vector.
    fix = parse_freegps_block(dumps[1782].ljust(0x4000, b"\0"))
    assert fix is not None and abs(fix.lat - 49.3690511067708) < DEG and abs(fix.lon + 123.099755859375) < DEG
    assert fix.time == datetime(2019, 9, 27, 5, 47, 3, tzinfo=UTC)
    assert fix.speed_mps == pytest.approx(26.3 * 1852 / 3600, rel=1e-6)
    # Vantrue N4 (line 2244): binary doubles and, in the same block, the $GNRMC they came from.
    fix = parse_freegps_block(dumps[2244].ljust(0x4000, b"\0"))
    assert fix is not None and abs(fix.lat - 47.3558661666667) < DEG and abs(fix.lon - 8.5134765) < DEG
    assert fix.time == datetime(2022, 12, 14, 13, 22, 30, tzinfo=UTC)
    # Azdome GS63H: the raw header (line 1658) plus ExifTool's decrypted view (line 1662)
    # re-encrypted gives the full block; ExifTool's own reading of it is the expected value.
    raw = bytearray(dumps[1658])
    plain = dumps[1662]
    raw[18:18 + len(plain)] = bytes(c ^ 0xAA for c in plain)
    assert bytes(raw[:0x30]) == dumps[1658][:0x30]  # the re-encryption reproduces the real bytes
    fix = parse_freegps_block(bytes(raw).ljust(0x8000, b"\0"))
    assert fix is not None and abs(fix.lat - 40.7739166666667) < DEG and abs(fix.lon + 7.06718) < DEG
    assert fix.time == datetime(2018, 9, 24, 22, 49, 28, tzinfo=UTC)
    # Nextbase 512GW (line 1722): an NMEA RMC inside the block.
    fix = parse_freegps_block(dumps[1722].ljust(0x8000, b"\0"))
    assert fix is not None and abs(fix.lat - (52 + 7.9097 / 60)) < DEG and abs(fix.lon - (5 + 5.5175 / 60)) < DEG
    assert fix.time == datetime(2018, 9, 19, 8, 9, 51, tzinfo=UTC)
    # Viofo A119S (line 2269): the same record 32 bytes further in; the header says 2017-12-31.
    fix = parse_freegps_block(dumps[2269].ljust(0x8000, b"\0"))
    assert fix is not None and fix.valid and fix.time == datetime(2017, 12, 31, 16, 45, 20, tzinfo=UTC)
    assert 54 < fix.lat < 55 and 18 < fix.lon < 19  # 5427.3 N 01832.96 E: Gdansk
    # Transcend Body Camera 70 (line 2331): decimal degrees, not DDMM (Durban, not the sea).
    fix = parse_freegps_block(dumps[2331].ljust(0x4000, b"\0"))
    assert fix is not None and fix.lat == pytest.approx(-29.7937, abs=1e-3) and fix.lon == pytest.approx(30.888, abs=1e-3)


def test_no_fix_and_unknown_blocks_give_no_point(dumps: dict[int, bytes]) -> None:
    assert parse_freegps_block(freegps_block(b"")) is None  # zeros after the header: no fix
    assert parse_freegps_block(b"\0" * 64) is None  # not a freeGPS block at all
    assert parse_freegps_block(dumps[1965].ljust(0x8000, b"\0")) is None  # Akaso V1: encrypted
    for n in (1848, 1853, 2002, 2390):  # LigoGPS / EACHPAI / 70mai A810: not decoded, no crash
        assert parse_freegps_block(dumps[n].ljust(0x4000, b"\0")) is None
    void = bytearray(VIOFO[0][0])
    void[0x28] = ord("V")  # receiver said "void"
    fix = parse_freegps_block(bytes(void))
    assert fix is not None and not fix.valid


def test_novatek_mp4_end_to_end(base_mp4: Path, tmp_path: Path, dumps: dict[int, bytes]) -> None:
    # A Viofo-named clip whose clock runs on CEST (UTC+2): the first fix is 1 s into the clip.
    blocks = [VIOFO[0][0], freegps_block(b""), VIOFO[1][0]]
    clip = add_novatek(base_mp4, tmp_path / "2019_0927_074702_001F.MP4", blocks)
    raw = read_embedded(clip)
    assert isinstance(raw, Track) and raw.source == "novatek"
    assert [round(f.lat, 9) for f in raw.fixes] == [round(VIOFO[0][1], 9), round(VIOFO[1][1], 9)]
    track = read_track(clip)
    assert isinstance(track, Track)
    assert track.camera_clock_offset_s == 7200.0
    assert [f.offset_s for f in track.fixes] == [pytest.approx(1.0), pytest.approx(2.0)]
    for fix, (_, lat, lon, course, epoch) in zip(track.fixes, VIOFO, strict=True):
        assert abs(fix.lat - lat) < DEG and abs(fix.lon - lon) < DEG
        assert abs(fix.time.timestamp() - epoch) < EPOCH and fix.bearing_deg == pytest.approx(course, abs=1e-4)


@pytest.mark.parametrize("cases,name", [(VANTRUE, "vantrue"), (AZDOME, "azdome")])
def test_other_novatek_layouts_in_a_real_container(base_mp4: Path, tmp_path: Path, cases: list, name: str) -> None:
    clip = add_novatek(base_mp4, tmp_path / f"{name}.mp4", [c[0] for c in cases])
    track = read_embedded(clip)
    assert isinstance(track, Track) and len(track.fixes) == len(cases)
    for fix, (_, lat, lon, _course, epoch) in zip(track.fixes, cases, strict=True):
        assert abs(fix.lat - lat) < DEG and abs(fix.lon - lon) < DEG
        assert abs(fix.time.timestamp() - epoch) < EPOCH


def test_damaged_novatek_files_never_raise(base_mp4: Path, tmp_path: Path) -> None:
    good = add_novatek(base_mp4, tmp_path / "good.mp4", [VIOFO[0][0], VIOFO[1][0]])
    data = good.read_bytes()
    # cut inside the second block: the first one is still read
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) - 0x80])
    track = read_embedded(cut)
    assert isinstance(track, Track) and len(track.fixes) == 1
    # an index that claims a million entries
    at = data.find(b"gps ") + 4
    bad = bytearray(data)
    bad[at + 4:at + 8] = struct.pack(">I", 1_000_000)
    (tmp_path / "bad_index.mp4").write_bytes(bytes(bad))
    result = read_embedded(tmp_path / "bad_index.mp4")
    assert isinstance(result, NoGps) and "declares" in result.reason
    # index pointing outside the file
    bad = bytearray(data)
    bad[at + 8:at + 12] = struct.pack(">I", len(data) + 10)
    bad[at + 16:at + 20] = struct.pack(">I", 0xFFFFFFF0)
    (tmp_path / "bad_offsets.mp4").write_bytes(bytes(bad))
    result = read_embedded(tmp_path / "bad_offsets.mp4")
    assert isinstance(result, NoGps) and "outside the file" in result.reason
    with pytest.raises(ValueError):
        parse_gps_index(b"\0\0\1\1")


# --------------------------------------------------------------------------- BlackVue


def test_blackvue_nmea_box_end_to_end(base_mp4: Path, tmp_path: Path) -> None:
    src = _need(DATA / "gps" / "gpsbabel_nmea" / "nmea")
    lines = src.read_text().splitlines()[:60]  # real GGA/RMC/VTG/ZDA sentences
    stamped = []
    for line in lines:  # BlackVue prefixes each sentence with the recorder's Unix time in ms
        hhmmss = line.split(",")[1][:6] if line.startswith(("$GPRMC", "$GPGGA")) else "032908"
        when = datetime(2004, 8, 7, int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:6]), tzinfo=UTC)
        stamped.append(f"[{int(when.timestamp() * 1000)}]{line}")
    clip = add_blackvue(base_mp4, tmp_path / "20040807_052908_NF.mp4", stamped)
    track = read_track(clip)
    assert isinstance(track, Track) and track.source == "blackvue"
    expected = [p for t in gpxpy.parse((src.parent / "nmea.gpx").read_text()).tracks
                for s in t.segments for p in s.points][: len(track.fixes)]
    assert len(track.fixes) >= 10
    for fix, ref in zip(track.fixes, expected, strict=True):
        assert abs(fix.lat - ref.latitude) < DEG and abs(fix.lon - ref.longitude) < DEG
        assert abs((fix.time - ref.time).total_seconds()) < EPOCH
    assert track.camera_clock_offset_s == 7200.0  # file name on CEST, sentences in UTC
    assert track.fixes[0].offset_s == pytest.approx(0.379, abs=1e-3)


def test_fuzzed_blocks_and_gpmf_payloads_never_raise(dumps: dict[int, bytes]) -> None:
    import random

    from tasks.gps import GpmfSample, fixes_from_gpmf, parse_nmea_text
    from tasks.gps.mp4box import iter_traks, list_boxes, track_samples, trak_info

    rng = random.Random(7)
    seeds = [VIOFO[0][0], VANTRUE[0][0], AZDOME[0][0], dumps[1722].ljust(0x100, b"\0")]
    for _ in range(400):
        block = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            block[rng.randrange(12, len(block))] = rng.randrange(256)
        fix = parse_freegps_block(bytes(block))
        assert fix is None or not fix.valid or fix.plausible()
    karma = _need(DATA / "videos" / "gopro" / "karma.mp4")
    size = karma.stat().st_size
    with karma.open("rb") as f:
        top, _ = list_boxes(f, 0, size)
        moov = next(b for b in top if b.type == b"moov")
        trak = next(t for t in iter_traks(f, moov) if getattr(trak_info(f, t), "format", b"") == b"gpmd")
        payloads = []
        for s in track_samples(f, trak, size)[:3]:
            f.seek(s.offset)
            payloads.append(f.read(s.size))
    for _ in range(60):
        data = bytearray(rng.choice(payloads))
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        fixes_from_gpmf([GpmfSample(bytes(data[: rng.randrange(8, len(data))]), 0.0, 1.0)])
    for _ in range(200):
        parse_nmea_text("".join(rng.choice("$GPRMC,0123456789.NSEWA*\r\n ") for _ in range(200)))
