"""The stable seam of plate reading: result types and the detector/reader ABCs.

Vehicle detection, tracking, sub-crop candidates and plate pattern repair are layered on top
of these, not inside the classes that implement them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tasks.plate_formats import PlateFormat

__all__ = ["Detection", "PlateDetector", "PlateReader", "PlateText", "to_bgr"]


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in ORIGINAL image pixels
    confidence: float


@dataclass(frozen=True)
class PlateText:
    text: str  # A-Z0-9 only, uppercase
    confidence: float  # 0..1
    # The plate format the text fits, where that format pins letters and digits to positions
    # (None: the text fits no such format). A box the detector is unsure of counts as a plate
    # only with such a fit: see `confirmed`.
    format: str | None = None


class PlateDetector(ABC):
    @abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Plate boxes in original pixel coordinates, sorted by confidence (highest first)."""


class PlateReader(ABC):
    @abstractmethod
    def read(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> PlateText | None:
        """Text of the plate in ``crop_bgr``, or None when nothing readable was found.

        ``formats``: the plate formats for this crop (the region where it was seen) instead of
        the reader's own; a reader that uses no formats ignores them.
        """


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
