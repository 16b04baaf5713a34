#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (tests/browser), which drive
# it through Playwright with executable_path=/usr/bin/chromium: no browser is ever downloaded
# (no `playwright install`). Idempotent: nothing is done when it is already there, so
# `make test` calls it on every run. Needs root (or sudo) only to install.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

log() { echo "[browser] $*"; }

if [ ! -x "$CHROMIUM" ]; then
  log "chromium is not installed: installing Debian's chromium package with apt"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation >/dev/null
  [ -x "$CHROMIUM" ] || { log "apt installed chromium but $CHROMIUM is missing"; exit 1; }
  log "chromium installed"
fi
