#!/usr/bin/env bash
# Serve the product: the ASGI server (HTTP + WebSockets), a Celery worker and Celery beat, all in the
# foreground. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-0.0.0.0}
PORT=${PORT:-8000}

bash scripts/migrate.sh
$BIN/python manage.py collectstatic --noinput -v 0
$BIN/python manage.py bootstrap_demo --port "$PORT"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "[run] stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$BIN/celery -A voiceagents worker --loglevel=INFO --concurrency=${CELERY_CONCURRENCY:-2} &
pids+=($!)
$BIN/celery -A voiceagents beat --loglevel=INFO &
pids+=($!)
# The ASGI server. uvicorn (uvloop, websockets-sansio) by default: it serves the media
# WebSockets with about half daphne's CPU per call (docs/benchmarks.md, "Media bridge").
# ASGI_SERVER=daphne serves the same application with daphne.
if [ "${ASGI_SERVER:-uvicorn}" = "daphne" ]; then
  $BIN/daphne -b "$HOST" -p "$PORT" voiceagents.asgi:application &
else
  $BIN/uvicorn voiceagents.asgi:application --host "$HOST" --port "$PORT" \
    --loop uvloop --ws websockets-sansio --no-access-log --proxy-headers &
fi
pids+=($!)
# Whichever process dies first takes the others down with it.
wait -n "${pids[@]}"
