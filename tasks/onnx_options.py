"""The ONNX Runtime session options every model of ours runs with (detectors, recognisers)."""

from __future__ import annotations

from typing import Any


def session_options(intra_op_num_threads: int) -> Any:
    """Few threads, errors-only logging, no spinning.

    Several models share small hosts, so one session must not take every core. Heavy runs ffmpeg
    (decode + archival encode) beside them, and the two recognisers take turns: idle ORT threads
    spinning for work burned ~3 CPU-s per 10 s clip that ffmpeg needed, and slowed the other
    recogniser 2x on a 2-core machine (measured).
    """
    import onnxruntime as ort  # local: importing the callers stays cheap

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_num_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: keep worker logs readable
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
