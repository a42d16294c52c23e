#!/usr/bin/env bash
# Set up (idempotent) and run every test, the slow end-to-end ones included. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
# The dashboard's browser test drives Debian's chromium (Playwright's own download cannot work
# offline and is not needed).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "test: installing chromium (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji >/dev/null
fi
# PostgreSQL server binaries for the multi-host tests (they start throwaway clusters themselves).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "test: installing postgresql (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
.venv/bin/ruff check .
# Two workers: the real-stack tests (one after another on one worker) spend much of their time
# waiting on real clocks (heartbeats, crash detection), so the short modules run beside them on
# the other. tests/conftest.py's scheduler groups them. The slowest tests are printed at the end:
# where CI time goes.
.venv/bin/python -m pytest -n "${DASHCAM_TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder --durations=25 "$@"
