# voiceagents: `make run` serves the product, `make test` runs the whole suite.
# Both start from nothing: they create .venv, install the locked dependencies, and make sure
# PostgreSQL (with pgvector) and Redis run on loopback (scripts/ensure_services.sh); `make test`
# also installs Debian's chromium for the browser tests (scripts/ensure_browser.sh).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install services browsers migrate run test bench lint demo clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

services:
	@bash scripts/ensure_services.sh

browsers:
	@bash scripts/ensure_browser.sh

migrate: install services
	@bash scripts/migrate.sh

run: install services
	@bash scripts/run.sh

test: install services browsers
	@bash scripts/test.sh

bench: install services
	@bash scripts/bench.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_imports.py
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
