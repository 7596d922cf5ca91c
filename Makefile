# Everything a fresh Debian machine needs, run as root: `make test` (or `.ci/run`).
.DEFAULT_GOAL := test
.PHONY: run once tasks private demo venv services test unit lint format bench pictures

VENV := .venv
BIN := $(VENV)/bin

# The main job on the embedded default: the daemon on the bundled SQLite demo database
# (one report a minute), email written to data/outbox/ unless SMTP_HOST is set in .env.
run: venv demo tasks private
	@echo "Reports land in data/exports/ and data/outbox/ every minute; Ctrl-C stops."
	@echo "Meanwhile, in another terminal: ./manage_tasks.py history"
	$(BIN)/python scheduler_daemon.py

# One pass of everything due, then exit (what a crontab line or a CI schedule runs).
once: venv demo tasks private
	$(BIN)/python scheduler_daemon.py --once

# tasks.json is yours: manage_tasks.py and every run write it, so git does not track it
# (a tracked one conflicted with `git pull`). The first run starts it from the demo.
tasks:
	@if [ ! -e tasks.json ]; then \
		install -m 640 examples/demo-tasks.json tasks.json && \
		echo "Created tasks.json from examples/demo-tasks.json (yours to change; git ignores it)"; \
	fi

# A tasks.json readable by everyone makes the daemon warn (one from before it was untracked).
private:
	@chmod o-rwx tasks.json

# The demo database (data/demo.db), built on first use.
demo: venv
	@$(BIN)/python -m src.services.demo data/demo.db

# Create .venv and install requirements-dev.txt when the requirement files changed.
venv:
	@bash scripts/ensure-venv.sh

# PostgreSQL, MariaDB, ODBC drivers, poppler, LibreOffice; writes .test-services.env.
services:
	@bash scripts/setup-services.sh

# The gate CI runs: tests on 2 workers, then lint (ruff + mypy).
test: venv services
	$(BIN)/pytest -n 2
	@$(MAKE) --no-print-directory lint

# Tests only, without (re)starting services; those needing a missing server skip.
unit: venv
	$(BIN)/pytest -n 2

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The pictures the docs show, made from real runs and drawn by headless Chromium; `make
# test` makes them too, into temporary folders, and checks them.
pictures: venv services
	DOCS_PICTURES=1 $(BIN)/pytest -q -m pictures

# Speed and memory measurements (not part of `test`: no timed assertions in tests).
bench: venv services
	@if [ -f bench/run.sh ]; then bash bench/run.sh; \
	elif ls bench/*.py >/dev/null 2>&1; then \
		for f in bench/*.py; do echo "== $$f"; $(BIN)/python "$$f" || exit 1; done; \
	else echo "bench: nothing to run (no bench/run.sh or bench/*.py)"; fi
