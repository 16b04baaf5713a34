#!/usr/bin/env bash
# Run every benchmark in bench/ (each prints its figures; docs/benchmarks.md records them).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 LOG_LEVEL=WARNING
bash scripts/migrate.sh
for bench in bench/bench_*.py; do
  [ -e "$bench" ] || continue
  echo "== $bench"
  .venv/bin/python "$bench"
done
