"""GPS -> plate region (offline), the formats picked from it, and ``read-plates`` with EXIF GPS.

The real video frames come from ../shared/data (never copied into the repo); those tests skip
when it is absent.
"""

from __future__ import annotations

import io
import json
import math
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from dashcam.cli.read_plates import exif_position, read_plates_cli
from tasks.plate_formats import DEFAULT_FORMATS, FORMATS_BY_REGION, PlateFormat, formats_for
from tasks.plates import Detection, PlateDetector, PlateReader, PlateText
from tasks.regions import _index, formats_at, region_at

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
HANOI, LAHORE, SAN_FRANCISCO = (21.0278, 105.8342), (31.5204, 74.3587), (37.7749, -122.4194)


@pytest.mark.parametrize(
    ("lat", "lon", "region"),
    [
        (*SAN_FRANCISCO, "us-ca"),
        (30.2672, -97.7431, "us-tx"),  # Austin
        (40.7128, -74.0060, "us-ny"),  # New York
        (38.9072, -77.0369, "us-dc"),  # Washington
        (43.6150, -116.2023, "us-id"),  # Boise: a state without layouts of its own
        (12.9716, 77.5946, "in"),  # Bengaluru
        (*LAHORE, "pk"),
        (*HANOI, "vn"),
        (51.5074, -0.1278, "gb"),  # London
        (43.6532, -79.3832, "ca"),  # Toronto
        (-33.8688, 151.2093, "au"),  # Sydney
        (44.4268, 26.1025, "ro"),  # Bucharest
        (52.5200, 13.4050, "eu"),  # Berlin
        (-23.5505, -46.6333, "br"),  # São Paulo
        (-34.6037, -58.3816, "ar"),  # Buenos Aires
        (52.1905833, 20.7894833, "eu"),  # the 70mai clip near Warsaw (../shared/data)
        (35.6762, 139.6503, None),  # Tokyo: no Japanese formats
        (0.0, 0.0, None),  # a receiver without a fix
        (math.nan, 10.0, None),
        (91.0, 0.0, None),
    ],
)
def test_region_at_known_places(lat: float, lon: float, region: str | None) -> None:
    assert region_at(lat, lon) == region
    assert region is None or region in FORMATS_BY_REGION


def test_region_lookup_is_offline_and_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the region lookup tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    _index.cache_clear()
    assert region_at(*SAN_FRANCISCO) == "us-ca"
    for _ in range(100):  # heavy asks once per track
        region_at(*HANOI)
    info = _index.cache_info()
    assert (info.misses, info.hits) == (1, 100)


def test_formats_at() -> None:
    assert formats_at(*SAN_FRANCISCO) == FORMATS_BY_REGION["us-ca"]
    assert formats_at(*HANOI, "ALL") == FORMATS_BY_REGION["vn"]
    assert formats_at(None, None) == DEFAULT_FORMATS  # no position: every format
    assert formats_at(35.6762, 139.6503) == DEFAULT_FORMATS  # a country without formats
    # A setting that names regions wins over the position: the user said where they drive.
    assert formats_at(*SAN_FRANCISCO, "eu") == formats_for("eu")
    assert formats_at(None, None, "br,ar") == formats_for("br,ar")


# -- read-plates with EXIF GPS --------------------------------------------------------------
def _write_jpeg(path: Path, image: np.ndarray, where: tuple[float, float] | None) -> Path:
    """A JPEG (BGR pixels) with the EXIF GPS block cameras write: degrees, minutes, seconds."""
    exif = Image.Exif()
    if where is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        for (tag, ref_tag), value, refs in (
            ((ExifTags.GPS.GPSLatitude, ExifTags.GPS.GPSLatitudeRef), where[0], "NS"),
            ((ExifTags.GPS.GPSLongitude, ExifTags.GPS.GPSLongitudeRef), where[1], "EW"),
        ):
            a = abs(value)
            gps[tag] = (float(int(a)), float(int(a * 60 % 60)), round(a * 3600 % 60, 4))
            gps[ref_tag] = refs[value < 0]
    Image.fromarray(np.ascontiguousarray(image[:, :, ::-1])).save(path, quality=95, exif=exif)
    return path


def test_exif_position(tmp_path: Path) -> None:
    blank = np.full((48, 64, 3), 255, np.uint8)
    lat, lon = exif_position(_write_jpeg(tmp_path / "sf.jpg", blank, SAN_FRANCISCO)) or (0, 0)
    assert (lat, lon) == pytest.approx(SAN_FRANCISCO, abs=1e-5)
    lat, lon = exif_position(_write_jpeg(tmp_path / "ba.jpg", blank, (-34.6, -58.4))) or (0, 0)
    assert (lat, lon) == pytest.approx((-34.6, -58.4), abs=1e-5)  # south and west: negative
    assert exif_position(_write_jpeg(tmp_path / "none.jpg", blank, None)) is None
    (tmp_path / "junk.jpg").write_text("not an image")
    assert exif_position(tmp_path / "junk.jpg") is None


class _OneBox(PlateDetector):
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return [Detection((4.0, 4.0, 40.0, 20.0), 0.9)]


class _Recording(PlateReader):
    def __init__(self) -> None:
        self.given: list[Sequence[PlateFormat] | None] = []

    def read(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> PlateText | None:
        self.given.append(formats)
        return PlateText("ABC123", 0.9)


def test_read_plates_uses_the_photos_gps(tmp_path: Path) -> None:
    blank = np.full((48, 64, 3), 255, np.uint8)
    photos = [
        _write_jpeg(tmp_path / "sf.jpg", blank, SAN_FRANCISCO),
        _write_jpeg(tmp_path / "no_gps.jpg", blank, None),
    ]
    out, reader = io.StringIO(), _Recording()
    assert read_plates_cli(photos, out=out, detector=_OneBox(), reader=reader, regions="all") == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["region"] for r in records] == ["us-ca", None]
    # With GPS: California's formats; without: the reader's own (from the setting).
    assert reader.given == [FORMATS_BY_REGION["us-ca"], None]
    reader.given.clear()
    read_plates_cli(photos[:1], out=io.StringIO(), detector=_OneBox(), reader=reader, regions="eu")
    assert reader.given == [formats_for("eu")]  # a setting that names regions wins


# -- real frames -----------------------------------------------------------------------------
def _frame(name: str, seconds: float) -> np.ndarray:
    path = VIDEOS / "real_plates" / name
    if not path.exists():
        pytest.skip(f"real video {path} is absent (../shared/data beside the repo)")
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-ss", str(seconds), "-i", str(path),
         "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))[:, :, ::-1].copy()


def test_a_far_vietnamese_plate_counts_only_with_vietnams_formats(tmp_path: Path) -> None:
    """parkpow's toll-booth clip (Vietnam): at 17.5 s the detector scores 89C-203.39 ~0.2, so
    it is a plate only when its text fits a format; with every format it reads as no layout,
    with Vietnam's (its photo's GPS) it fits DD L DDDDD."""
    from tasks.plates import CandidateReader, OnnxPlateDetector

    frame = _frame("parkpow_cars.mp4", 17.5)
    detector, reader = OnnxPlateDetector(conf_threshold=0.15), CandidateReader()
    photos = [
        _write_jpeg(tmp_path / "hanoi.jpg", frame, HANOI),
        _write_jpeg(tmp_path / "nowhere.jpg", frame, None),
    ]
    out = io.StringIO()
    read_plates_cli(
        photos, out=out, detector=detector, reader=reader, sure_confidence=0.35, regions="all"
    )
    hanoi, nowhere = (json.loads(line) for line in out.getvalue().splitlines())
    assert hanoi["region"] == "vn" and "89C20339" in [p["text"] for p in hanoi["plates"]]
    assert "89C20339" not in [p["text"] for p in nowhere["plates"]]


def test_a_pakistani_plate_reads_whole_with_pakistans_formats() -> None:
    from tasks.plates import CandidateReader, OnnxPlateDetector, crop_plate

    frame = _frame("alizahidraja_70.mp4", 2.9)
    [det] = OnnxPlateDetector(conf_threshold=0.15).detect(frame)[:1]
    read = CandidateReader().read(crop_plate(frame, det.box), formats_at(*LAHORE))
    assert read is not None and (read.text, read.format) == ("LZW9715", "pk")
