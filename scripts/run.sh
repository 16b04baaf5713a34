#!/usr/bin/env bash
# Serve the product: the ASGI server (HTTP + WebSockets), a Celery worker and Celery beat, all in the
# foreground. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-0.0.0.0}
PORT=${PORT:-8000}

# Organizations' secrets are stored encrypted (voiceagents.secrets) and the servers refuse to
# start without a key: for the demo, generate one into .env once (it must be kept: what was
# stored with it cannot be read without it).
current_key=$(sed -n 's/^SECRETS_ENCRYPTION_KEYS=//p' .env 2>/dev/null | head -n 1 || true)
if [ -z "${SECRETS_ENCRYPTION_KEYS:-}" ] && [ -z "$current_key" ]; then
  key=$($BIN/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
  if grep -q '^SECRETS_ENCRYPTION_KEYS=' .env 2>/dev/null; then
    sed -i "s|^SECRETS_ENCRYPTION_KEYS=.*|SECRETS_ENCRYPTION_KEYS=$key|" .env
  else
    printf 'SECRETS_ENCRYPTION_KEYS=%s\n' "$key" >> .env
  fi
  echo "[run] SECRETS_ENCRYPTION_KEYS was not set: generated a key for this demo into .env (keep it)"
fi

bash scripts/migrate.sh
$BIN/python manage.py collectstatic --noinput -v 0
# DEMO_SAMPLE_DATA=0 starts the demo organization empty (no sample agent, calls, batch...).
sample_data_flag=""
case "${DEMO_SAMPLE_DATA:-1}" in
  0|false|no|off) sample_data_flag=--no-sample-data ;;
esac
$BIN/python manage.py bootstrap_demo --port "$PORT" $sample_data_flag

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
