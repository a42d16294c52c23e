#!/usr/bin/env bash
# Set up (idempotent), start the all-in-one stack, run the pipeline on sample footage, print the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
exec .venv/bin/dashcam demo "$@"
