"""A YOLOv8 ONNX export's input and output: letterbox, decode, NMS.

One implementation for the plate detector (tasks.plates.detector) and the vehicle detector
(tasks.vehicles); where the two differ (which class columns count, trailing mask coefficients,
dropping boxes clipped to nothing, the thresholds) the difference is an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np

__all__ = ["LETTERBOX_FILL", "Letterboxed", "decode", "letterbox", "nms"]

LETTERBOX_FILL = 114  # the grey YOLO/ultralytics training used for padding


class Letterboxed(NamedTuple):
    blob: np.ndarray  # (1, 3, H, W) RGB in 0..1, the model's input dtype
    scale: float  # original pixels -> letterbox pixels
    pad_x: float
    pad_y: float


def letterbox(
    image_bgr: np.ndarray,
    size: tuple[int, int],
    dtype: Any = np.float32,
    fit: tuple[int, int] | None = None,
) -> Letterboxed:
    """Resize keeping aspect, pad to ``size`` (h, w) with the training grey, as a model input.

    ``fit``: the (h, w) the image is scaled to fit, when the input is smaller than that (a
    `rect` input: the full size cut down to a stride multiple); default ``size``.
    """
    in_h, in_w = size
    fit_h, fit_w = fit or size
    h, w = image_bgr.shape[:2]
    scale = min(fit_h / h, fit_w / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_LINEAR like ultralytics' own letterbox, so inputs match what the model saw.
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    canvas = np.full((in_h, in_w, 3), LETTERBOX_FILL, dtype=np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    blob = (rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255.0).astype(dtype)
    return Letterboxed(np.ascontiguousarray(blob), scale, float(pad_x), float(pad_y))


def decode(
    output: np.ndarray,
    image_hw: tuple[int, int],
    scale: float,
    pad_x: float,
    pad_y: float,
    conf_threshold: float,
    classes: Sequence[int] | None = None,
    extra: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The anchors whose best class scores above ``conf_threshold``: boxes, scores, class ids.

    ``output``: the export's first output, (1, 4 + classes [+ extra], anchors), boxes as
    cx, cy, w, h in letterbox pixels. Boxes come back as x1, y1, x2, y2 (N, 4) float32 in
    original pixels, clipped to the image. ``classes``: the class ids that count (column 4 +
    id; a tie goes to the first listed), default all; ``extra``: trailing columns that are not
    classes (YOLOv8-seg's 32 mask coefficients).
    """
    preds = np.asarray(output[0], dtype=np.float32).T  # (anchors, 4 + classes [+ extra])
    ids = np.arange(preds.shape[1] - 4 - extra) if classes is None else np.asarray(classes)
    scores = preds[:, 4 + ids]
    best = scores.argmax(axis=1)
    conf = scores[np.arange(len(scores)), best]
    keep = conf > conf_threshold
    c = preds[keep, :4]
    # Letterbox space -> original pixels, clipped to the image.
    h, w = image_hw
    x1 = ((c[:, 0] - c[:, 2] / 2 - pad_x) / scale).clip(0, w)
    y1 = ((c[:, 1] - c[:, 3] / 2 - pad_y) / scale).clip(0, h)
    x2 = ((c[:, 0] + c[:, 2] / 2 - pad_x) / scale).clip(0, w)
    y2 = ((c[:, 1] + c[:, 3] / 2 - pad_y) / scale).clip(0, h)
    return np.stack([x1, y1, x2, y2], axis=1), conf[keep], ids[best[keep]]


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    conf_threshold: float,
    iou_threshold: float,
    min_side: float | None = None,
) -> list[int]:
    """Indices of ``boxes`` (x1, y1, x2, y2) kept by OpenCV's class-agnostic NMS, best first.

    ``min_side``: boxes whose width or height is not above it are dropped first (a box clipped
    to nothing at the image edge); None keeps them.
    """
    xywh = np.stack(
        [boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1
    )
    candidates = np.arange(len(boxes))
    if min_side is not None:
        candidates = np.flatnonzero((xywh[:, 2] > min_side) & (xywh[:, 3] > min_side))
    if not len(candidates):
        return []
    idx = cv2.dnn.NMSBoxes(
        xywh[candidates].tolist(), scores[candidates].tolist(), conf_threshold, iou_threshold
    )
    kept = candidates[np.asarray(idx, dtype=int).reshape(-1)]
    return sorted(kept.tolist(), key=lambda i: -scores[i])
