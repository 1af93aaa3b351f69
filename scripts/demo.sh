#!/usr/bin/env bash
# Set up (idempotent) and run the demo on embedded defaults. Extra arguments go to `warehouse demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/warehouse demo "$@"
