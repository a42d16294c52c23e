"""``dashcam read-plates IMAGE... --json``: detect and read plates in still images.

One JSON line per image: ``{"image": path, "region": key or null, "plates": [{"text",
"confidence", "box", "vehicle"}]}`` (plates by confidence, boxes in original pixels), or
``{"image", "error"}`` for a file that is not a readable image. Exit code 1 only when no image
could be read at all. A photo with an EXIF GPS position is read with the plate formats of
where it was taken (``region``, see `tasks.regions.formats_at`), unless
``DASHCAM_PLATE_REGIONS`` names regions.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from dashcam.cli.progress import progress
from tasks.plate_formats import PlateFormat, formats_for
from tasks.plates import (
    OnnxPlateDetector,
    PlateDetector,
    PlateReader,
    default_reader,
    read_plates,
    to_bgr,
)
from tasks.regions import formats_at, region_at
from tasks.vehicles import VehicleDetector, vehicle_for


def _load(path: Path) -> np.ndarray:
    # imdecode from bytes: cv2.imread can't report *why* it failed and chokes on odd paths;
    # IMREAD_UNCHANGED + to_bgr handles grey, RGBA (the .jpg-named PNGs) and 16-bit alike.
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ValueError("not a readable image")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    return to_bgr(image)


def exif_position(path: Path) -> tuple[float, float] | None:
    """The photo's EXIF GPS position (latitude, longitude in degrees), or None without one."""
    from PIL import ExifTags, Image

    try:
        with Image.open(path) as img:
            gps = img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef))
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef))
    except Exception:  # noqa: BLE001 - odd EXIF must never cost the image its plates
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lat, lon


def _degrees(value: Any, ref: Any) -> float:
    """EXIF degrees, minutes, seconds (rationals; some cameras write degrees alone)."""
    parts = [float(v) for v in value] if isinstance(value, tuple | list) else [float(value)]
    degrees = sum(v / 60**i for i, v in enumerate(parts[:3]))
    ref = ref.decode() if isinstance(ref, bytes) else str(ref or "")
    return -degrees if ref.strip().upper()[:1] in ("S", "W") else degrees


def read_image(
    path: Path,
    detector: PlateDetector,
    reader: PlateReader,
    vehicles: VehicleDetector | None = None,
    sure_confidence: float | None = None,
    regions: str | None = None,
) -> dict[str, Any]:
    """One output record for ``path``; errors become an ``"error"`` field, never raise.

    ``regions`` (the ``plate_regions`` setting): with it, a photo's EXIF GPS position picks
    the plate formats (`formats_at`); None keeps the reader's own formats.
    """
    try:
        image = _load(path)
    except (OSError, ValueError) as exc:
        return {"image": str(path), "error": str(exc)}
    position = exif_position(path) if regions is not None else None
    formats = formats_at(*position, regions) if position else None
    found = [
        (det, text)
        for det, text in read_plates(image, detector, reader, sure_confidence, formats)
        if text is not None
    ]
    seen = vehicles.detect(image) if vehicles is not None and found else []
    plates = []
    for det, text in found:
        vehicle = vehicle_for(det.box, seen)
        plates.append(
            {
                "text": text.text,
                "confidence": round(text.confidence * det.confidence, 4),
                "box": [round(v, 1) for v in det.box],
                "vehicle": vehicle.kind if vehicle else None,
            }
        )
    plates.sort(key=lambda p: -p["confidence"])
    region = region_at(*position) if position else None
    return {"image": str(path), "region": region, "plates": plates}


def read_plates_cli(
    paths: list[Path],
    formats: Sequence[PlateFormat] | None = None,
    out: TextIO | None = None,
    detector: PlateDetector | None = None,
    reader: PlateReader | None = None,
    vehicles: VehicleDetector | None = None,
    sure_confidence: float | None = None,
    regions: str | None = None,
) -> int:
    """Print one JSON line per image; 0 if at least one image was read, else 1. Progress
    (images done of all) goes to stderr: a bar on a terminal, plain lines otherwise.

    ``sure_confidence``: boxes the detector scored below it are plates only when their text
    fits a plate format (see `tasks.plates.confirmed`); None keeps every box that was read.
    ``regions``: the ``plate_regions`` setting that, with a photo's GPS, picks its formats
    (default: the setting's value); explicit ``formats`` are used for every photo instead.
    """
    from dashcam.settings import get_settings

    detector = detector or OnnxPlateDetector(zoom=get_settings().plate_zoom)
    reader = reader or default_reader(formats=formats if formats is not None else formats_for(None))
    if formats is not None:
        regions = None
    elif regions is None:
        regions = get_settings().plate_regions
    read_any = False
    with progress(len(paths), "read-plates") as bar:
        stream = out or sys.stdout  # inside: on a terminal, lines go above the bar
        for path in paths:
            bar.advance(0, note=Path(path).name)
            record = read_image(Path(path), detector, reader, vehicles, sure_confidence, regions)
            read_any |= "error" not in record
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            bar.advance()
    return 0 if read_any or not paths else 1
