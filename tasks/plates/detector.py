"""The ONNX plate detector: platedet's YOLOv8-seg export, run boxes-only."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasks import yolo
from tasks.onnx_options import session_options
from tasks.plates.base import Detection, PlateDetector, to_bgr
from tasks.plates.onnx_model import MASK_COEFFS, MAX_STRIDE, BoxesOnlyModel, default_cache_dir

__all__ = ["OnnxPlateDetector", "default_detector_model_path"]


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
        rect: bool = True,
        int8: bool = False,
        cache_dir: Path | None = None,
        zoom: bool = True,
    ) -> None:
        import onnxruntime as ort  # local: keep importing this module cheap

        path = Path(model_path) if model_path is not None else default_detector_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"plate detector model not found: {path}")
        options = session_options(intra_op_num_threads)
        self._ort, self._options = ort, options
        self._providers = list(providers) if providers else ["CPUExecutionProvider"]
        self._model = BoxesOnlyModel.load(path)  # None: not editable, run the file as it is
        self.session = ort.InferenceSession(
            self._model.square() if self._model else str(path),
            sess_options=options,
            providers=self._providers,
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
        self.int8 = int8 and self._model is not None
        if self.int8:
            assert self._model is not None
            self._model = self._model.int8(cache_dir or default_cache_dir(), self.letterbox)
            self.session = ort.InferenceSession(
                self._model.square(), sess_options=options, providers=self._providers
            )
            self._input_dtype = _ort_input_dtype(self.session.get_inputs()[0].type)
        # Rectangular inputs (ultralytics' `rect` letterbox): a 16:9 frame at 640 wide needs
        # 640x384, not 640x640, which is ~40 % less compute. One session per input shape.
        self.rect = rect and self._model is not None and self._model.rect_capable
        self._sessions: dict[tuple[int, int], Any] = {self.input_size: self.session}
        self.zoom = zoom

    def _session_for(self, shape: tuple[int, int]) -> Any:
        if shape not in self._sessions:
            assert self._model is not None
            self._sessions[shape] = self._ort.InferenceSession(
                self._model.with_input(*shape),
                sess_options=self._options,
                providers=self._providers,
            )
        return self._sessions[shape]

    def input_shape_for(self, h: int, w: int) -> tuple[int, int]:
        in_h, in_w = self.input_size
        if not self.rect:
            return in_h, in_w
        scale = min(in_h / h, in_w / w)
        # Pad only up to the model's stride (32), like ultralytics' predict on a .pt model.
        stride = MAX_STRIDE
        return (
            min(in_h, int(np.ceil(round(h * scale) / stride) * stride)),
            min(in_w, int(np.ceil(round(w * scale) / stride) * stride)),
        )

    def letterbox(
        self, image_bgr: np.ndarray, size: tuple[int, int] | None = None
    ) -> yolo.Letterboxed:
        """Resize keeping aspect, pad to the model size; returns blob, scale, pad_x, pad_y."""
        return yolo.letterbox(
            image_bgr, size or self.input_size, self._input_dtype, fit=self.input_size
        )

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Plate boxes in the image; with `zoom`, a second look at its centre when the whole
        image shows none.

        Why the second look: the whole of a 1080p frame goes into 640x384, where a plate
        ~200 px wide that a person reads at once can score nothing at all (`BA268IM` in the
        wide tuning clips: no box at 0.05 on the frame, 0.68 on its centre half). A forward
        camera sees far cars near the centre, so the centre half, at twice the scale, is where
        a missed plate is; it costs one more detector run on frames with no plate, only for
        images wide enough that the centre half still has more pixels than the model takes.
        """
        image = to_bgr(image_bgr)
        found = self._detect(image)
        h, w = image.shape[:2]
        if found or not self.zoom or w < 1.5 * self.input_size[1]:
            return found
        x0, y0 = w // 4, h // 4
        return [
            Detection(box=(x1 + x0, y1 + y0, x2 + x0, y2 + y0), confidence=d.confidence)
            for d in self._detect(image[y0 : h - y0, x0 : w - x0])
            for x1, y1, x2, y2 in (d.box,)
        ]

    def _detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            return []
        shape = self.input_shape_for(h, w)
        blob, scale, pad_x, pad_y = self.letterbox(image, shape)
        outputs = self._session_for(shape).run(None, {self._input_name: blob})
        n_mask = MASK_COEFFS if (self._model.segment if self._model else len(outputs) > 1) else 0
        # One class (plate): every class column counts; the mask coefficients are not classes.
        boxes, scores, _ = yolo.decode(
            outputs[0], (h, w), scale, pad_x, pad_y, self.conf_threshold, extra=n_mask
        )
        # Boxes clipped to nothing (1 px or less) at the image edge are dropped before NMS.
        kept = yolo.nms(boxes, scores, self.conf_threshold, self.iou_threshold, min_side=1)
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
