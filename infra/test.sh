#!/usr/bin/env bash
# Set up (idempotent) and run every test, the slow end-to-end ones included. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
