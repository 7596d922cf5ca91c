#!/usr/bin/env bash
# The export benchmark as recorded in docs/performance.md: every contender, side by side,
# at 100,000 and 1,000,000 rows (the pandas baseline alone takes a few minutes at 1M).
# Needs PostgreSQL with the test role (`make services`) and bench/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -q -r bench/requirements.txt
mkdir -p var
exec .venv/bin/python bench/bench_export.py --rows 100000 1000000 \
  --json var/bench_export.json "$@"
