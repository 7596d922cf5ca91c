#!/usr/bin/env bash
# The export benchmark as recorded in docs/performance.md: every contender, side by side,
# at 100,000 and 1,000,000 rows, medians of 3 rounds (pandas once: it takes minutes at 1M),
# with the code of BASE (default: a checkout of main in var/base) run beside it as "@base".
# Needs PostgreSQL and MariaDB with the test role (`make services`) and bench/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install -q -r bench/requirements.txt
mkdir -p var
BASE="${BASE:-var/base}"
if [ ! -d "$BASE" ]; then
  mkdir -p "$BASE" && git archive main | tar -x -C "$BASE"
fi
exec .venv/bin/python bench/bench_export.py --rows 100000 1000000 --repeat 3 --once pandas \
  --baseline "$BASE" \
  --baseline-contenders fetch,csv,csv_cursor,xlsx,xlsx_formats,all,xlsx_mariadb,csv_mariadb,xlsx_sqlite,csv_sqlite \
  --json var/bench_export.json "$@"
