"""The plate detector's ONNX model edited in memory: boxes only, any input size, int8.

Only onnx/onnxruntime (imported inside the functions) and numpy; the detector runs the bytes.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MASK_COEFFS", "MAX_STRIDE", "BoxesOnlyModel", "default_cache_dir"]

log = logging.getLogger(__name__)

MASK_COEFFS = 32  # YOLOv8-seg appends 32 mask coefficients per anchor; we only need boxes

_STRIDES = (8, 16, 32)  # YOLOv8's three detection scales
MAX_STRIDE = _STRIDES[-1]


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


class BoxesOnlyModel:
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
    def load(cls, path: Path) -> BoxesOnlyModel | None:
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
                    channels.dim_value -= MASK_COEFFS
                    model = onnx.utils.Extractor(model).extract_model(inputs, [out.name])
                    segment = False
            dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
            size = None
            if len(dims) == 4 and dims[2] > 0 and dims[3] > 0 and dims[2] % MAX_STRIDE == 0:
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

    def int8(self, cache_dir: Path, letterbox: Any) -> BoxesOnlyModel:
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
        return BoxesOnlyModel(onnx.load(str(path)), self.segment, self._size)

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


def default_cache_dir() -> Path:
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
