#!/usr/bin/env bash
# The whole suite against real PostgreSQL and Redis (pytest-django creates a separate test
# database). pytest's exit code 5 ("no tests collected") is a failure here: a suite that runs
# nothing proves nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/staticfiles
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DEBUG=false LOG_LEVEL=${LOG_LEVEL:-WARNING}
# A fixed key for test data only (never a real one), when none is set: the servers the tests
# start refuse to run without SECRETS_ENCRYPTION_KEYS.
export SECRETS_ENCRYPTION_KEYS=${SECRETS_ENCRYPTION_KEYS:-dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLWluLXByb2Q=}
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing the run"
  exit 1
fi
exit "$status"
