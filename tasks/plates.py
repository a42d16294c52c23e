"""License-plate detection and reading on single images.

Plain, Prefect-free building blocks: a detector (YOLOv8-seg ONNX model shipped in the
``platedet`` wheel) and a reader (PaddleOCR recognition model via ``rapidocr_onnxruntime``).
The ABCs are the stable seam: vehicle detection, tracking, sub-crop candidates and plate
pattern repair are meant to be layered on top of them, not inside these classes.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = [
    "Detection",
    "OnnxPlateDetector",
    "PlateDetector",
    "PlateReader",
    "PlateText",
    "RapidOcrReader",
    "crop_plate",
    "default_detector_model_path",
    "read_plates",
    "to_bgr",
]

_LETTERBOX_FILL = 114  # the grey YOLO/ultralytics training used for padding
_MASK_COEFFS = 32  # YOLOv8-seg appends 32 mask coefficients per anchor; we only need boxes
_NON_PLATE_CHARS = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in ORIGINAL image pixels
    confidence: float


@dataclass(frozen=True)
class PlateText:
    text: str  # A-Z0-9 only, uppercase
    confidence: float  # 0..1


class PlateDetector(ABC):
    @abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Plate boxes in original pixel coordinates, sorted by confidence (highest first)."""


class PlateReader(ABC):
    @abstractmethod
    def read(self, crop_bgr: np.ndarray) -> PlateText | None:
        """Text of the plate in ``crop_bgr``, or None when nothing readable was found."""


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Normalise grayscale (HxW / HxWx1) and BGRA input to 3-channel uint8 BGR."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        # Drop alpha rather than compositing: dashcam PNGs carry a constant opaque alpha.
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"unsupported image shape {image.shape}; expected HxW, HxWx3 or HxWx4")


def default_detector_model_path() -> Path:
    """Locate ``platedet/artifacts/platedet.onnx`` without importing platedet's code.

    ``importlib.resources.files("platedet")`` would import the package ``__init__``, which
    pulls in platedet's own module (PIL, onnxruntime at import, mutable default args).
    ``find_spec`` on a top-level package only resolves its location.
    """
    spec = importlib.util.find_spec("platedet")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "artifacts" / "platedet.onnx"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "plate detector model platedet/artifacts/platedet.onnx not found: install the "
        "'platedet' package (pip install --no-deps platedet==0.0.2, see "
        "infra/requirements-models.txt) or pass model_path explicitly"
    )


def _ort_input_dtype(ort_type: str) -> type[np.floating[Any]]:
    # The shipped model is exported in fp16; read it from the graph so an fp32 export works too.
    if ort_type == "tensor(float16)":
        return np.float16
    if ort_type == "tensor(float)":
        return np.float32
    raise ValueError(f"unsupported detector input type {ort_type}")


class OnnxPlateDetector(PlateDetector):
    """YOLOv8-seg plate detector (platedet's ONNX export), boxes only."""

    def __init__(
        self,
        model_path: Path | None = None,
        providers: Sequence[str] | None = None,
        conf_threshold: float = 0.35,
        iou_threshold: float = 0.5,
        intra_op_num_threads: int = 2,
    ) -> None:
        import onnxruntime as ort  # local: keep importing this module cheap

        path = Path(model_path) if model_path is not None else default_detector_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"plate detector model not found: {path}")
        options = ort.SessionOptions()
        # Several detectors/readers share small hosts: don't let one session grab every core.
        options.intra_op_num_threads = intra_op_num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: keep worker logs readable
        self.session = ort.InferenceSession(
            str(path),
            sess_options=options,
            providers=list(providers) if providers else ["CPUExecutionProvider"],
        )
        model_input = self.session.get_inputs()[0]
        self._input_name: str = model_input.name
        self._input_dtype = _ort_input_dtype(model_input.type)
        height, width = model_input.shape[-2:]
        # Dynamic axes come back as strings/None; the training size is 640.
        self.input_size: tuple[int, int] = (
            height if isinstance(height, int) else 640,
            width if isinstance(width, int) else 640,
        )
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold

    def _letterbox(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """Resize keeping aspect, pad to the model size; returns blob, scale, pad_x, pad_y."""
        in_h, in_w = self.input_size
        h, w = image_bgr.shape[:2]
        scale = min(in_h / h, in_w / w)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        # INTER_LINEAR like ultralytics' own letterbox, so inputs match what the model saw.
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
        canvas = np.full((in_h, in_w, 3), _LETTERBOX_FILL, dtype=np.uint8)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        blob = (rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0).astype(self._input_dtype)
        return np.ascontiguousarray(blob), scale, float(pad_x), float(pad_y)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image = to_bgr(image_bgr)
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            return []
        blob, scale, pad_x, pad_y = self._letterbox(image)
        outputs = self.session.run(None, {self._input_name: blob})
        preds = np.asarray(outputs[0][0], dtype=np.float32).T  # (anchors, 4 + classes [+ 32])
        n_mask = _MASK_COEFFS if len(outputs) > 1 else 0
        scores = preds[:, 4 : preds.shape[1] - n_mask].max(axis=1)
        keep = scores > self.conf_threshold
        if not keep.any():
            return []
        cxcywh, scores = preds[keep, :4], scores[keep]

        # Letterbox space -> original pixels, clipped to the image.
        x1 = (cxcywh[:, 0] - cxcywh[:, 2] / 2 - pad_x) / scale
        y1 = (cxcywh[:, 1] - cxcywh[:, 3] / 2 - pad_y) / scale
        x2 = (cxcywh[:, 0] + cxcywh[:, 2] / 2 - pad_x) / scale
        y2 = (cxcywh[:, 1] + cxcywh[:, 3] / 2 - pad_y) / scale
        boxes = np.stack([x1, y1, x2, y2], axis=1)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)

        xywh = np.stack(
            [boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1
        )
        valid = (xywh[:, 2] > 1) & (xywh[:, 3] > 1)  # drop boxes clipped to nothing
        boxes, xywh, scores = boxes[valid], xywh[valid], scores[valid]
        idx = cv2.dnn.NMSBoxes(
            xywh.tolist(), scores.tolist(), self.conf_threshold, self.iou_threshold
        )
        kept = sorted(np.asarray(idx, dtype=int).reshape(-1).tolist(), key=lambda i: -scores[i])
        return [
            Detection(
                box=(
                    float(boxes[i, 0]),
                    float(boxes[i, 1]),
                    float(boxes[i, 2]),
                    float(boxes[i, 3]),
                ),
                confidence=float(scores[i]),
            )
            for i in kept
        ]


class RapidOcrReader(PlateReader):
    """PP-OCRv4 recognition (no text detection, no angle classifier) on a plate crop.

    Recognition-only on the detector's box reads EU plates far better than det+rec (measured
    67% vs 25% exact): the text detector splits plates and mis-crops the country strip.
    RapidOCR still loads its det/cls models at construction (~0.5 s in all); they stay unused.
    """

    def __init__(self, intra_op_num_threads: int = 2, min_confidence: float = 0.0) -> None:
        from rapidocr_onnxruntime import RapidOCR  # local: heavy import (3 ONNX models)

        self._engine = RapidOCR(
            use_det=False,
            use_cls=False,
            use_rec=True,
            print_verbose=False,
            intra_op_num_threads=intra_op_num_threads,
            inter_op_num_threads=1,
        )
        # rapidocr attaches DEBUG-level stream handlers to its loggers; keep them to warnings.
        for name in ("RapidOCR", "OrtInferSession"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.min_confidence = min_confidence

    def read(self, crop_bgr: np.ndarray) -> PlateText | None:
        if crop_bgr.size == 0 or min(crop_bgr.shape[:2]) < 2:
            return None
        # Convert ourselves: rapidocr's own 4-channel path assumes RGBA and may invert colours.
        crop = to_bgr(crop_bgr)
        result, _ = self._engine(crop, use_det=False, use_cls=False, use_rec=True)
        if not result:
            return None
        raw_text, score = result[0][0], float(result[0][1])
        text = _NON_PLATE_CHARS.sub("", str(raw_text).upper())
        if not text or score < self.min_confidence:
            return None
        return PlateText(text=text, confidence=min(max(score, 0.0), 1.0))


def crop_plate(
    image_bgr: np.ndarray, box: tuple[float, float, float, float], pad: float = 0.1
) -> np.ndarray:
    """Full-resolution crop of ``box`` grown by ``pad`` x its width/height per side, clipped.

    A little margin keeps the first/last characters intact when the detector box is tight.
    """
    h, w = image_bgr.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    left = int(np.clip(np.floor(x1 - dx), 0, w))
    top = int(np.clip(np.floor(y1 - dy), 0, h))
    right = int(np.clip(np.ceil(x2 + dx), 0, w))
    bottom = int(np.clip(np.ceil(y2 + dy), 0, h))
    return image_bgr[top:bottom, left:right]


def read_plates(
    image_bgr: np.ndarray, detector: PlateDetector, reader: PlateReader
) -> list[tuple[Detection, PlateText | None]]:
    """Detect every plate in the image and read each one (None where unreadable)."""
    image = to_bgr(image_bgr)
    return [(det, reader.read(crop_plate(image, det.box))) for det in detector.detect(image)]
