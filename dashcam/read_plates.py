"""``dashcam read-plates IMAGE... --json``: detect and read plates in still images.

One JSON line per image: ``{"image": path, "plates": [{"text", "confidence", "box",
"vehicle"}]}`` (plates by confidence, boxes in original pixels), or ``{"image", "error"}``
for a file that is not a readable image. Exit code 1 only when no image could be read at all.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from tasks.plate_formats import PlateFormat, formats_for
from tasks.plates import (
    OnnxPlateDetector,
    PlateDetector,
    PlateReader,
    default_reader,
    read_plates,
    to_bgr,
)
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


def read_image(
    path: Path,
    detector: PlateDetector,
    reader: PlateReader,
    vehicles: VehicleDetector | None = None,
    sure_confidence: float | None = None,
) -> dict[str, Any]:
    """One output record for ``path``; errors become an ``"error"`` field, never raise."""
    try:
        image = _load(path)
    except (OSError, ValueError) as exc:
        return {"image": str(path), "error": str(exc)}
    found = [
        (det, text)
        for det, text in read_plates(image, detector, reader, sure_confidence)
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
    return {"image": str(path), "plates": plates}


def read_plates_cli(
    paths: list[Path],
    formats: Sequence[PlateFormat] | None = None,
    out: TextIO | None = None,
    detector: PlateDetector | None = None,
    reader: PlateReader | None = None,
    vehicles: VehicleDetector | None = None,
    sure_confidence: float | None = None,
) -> int:
    """Print one JSON line per image; 0 if at least one image was read, else 1.

    ``sure_confidence``: boxes the detector scored below it are plates only when their text
    fits a plate format (see `tasks.plates.confirmed`); None keeps every box that was read.
    """
    stream = out or sys.stdout
    detector = detector or OnnxPlateDetector()
    reader = reader or default_reader(formats=formats if formats is not None else formats_for(None))
    read_any = False
    for path in paths:
        record = read_image(Path(path), detector, reader, vehicles, sure_confidence)
        read_any |= "error" not in record
        stream.write(json.dumps(record) + "\n")
        stream.flush()
    return 0 if read_any or not paths else 1
