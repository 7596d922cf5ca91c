"""What a task's report settings cost the xlsx: the same rows, side by side.

Writes ``--rows`` rows of 10 columns (integers, a 16-digit integer, amounts, fractions,
text, dates, date-times, booleans, small integers, NULLs) straight to the xlsx writer,
once per configuration and round, interleaved so the machine's load falls on all alike:

* ``plain``: no ``columns``;
* ``formats+totals``: four formatted columns (currency, percent, integer, date) with
  sum / avg totals;
* ``+highlights+chart``: the same with four highlight rules and a chart (not drawn: more
  than 50 rows, so it costs its points gathered and nothing else);
* ``+locale de``: the same in German.

Times are the process's CPU time (user + system), steadier than the wall clock on a
shared machine; the median of the rounds is compared with ``plain``. The issue's budget:
formats, totals and highlights add at most 15%.

Usage: ``python bench/bench_report_knobs.py [--rows 1000000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src.core.chart import read_chart  # noqa: E402
from src.core.column_format import read_columns  # noqa: E402
from src.core.result import Column  # noqa: E402
from src.services.export import ExportContext  # noqa: E402
from src.services.export.xlsx import XlsxExporter  # noqa: E402

NAMES = ["id", "big", "amount", "ratio", "label", "day", "at", "flag", "qty", "note"]
BATCH = 5000
FORMATS: dict[str, dict[str, Any]] = {
    "amount": {"format": "currency", "currency": "EUR", "total": "sum"},
    "ratio": {"format": "percent", "decimals": 1, "total": "avg"},
    "qty": {"format": "integer", "total": "sum"},
    "day": {"format": "date", "pattern": "dd.mm.yyyy"},
}
RULES = {
    "amount": [{"when": ">= 900", "style": "strong"}],
    "qty": [{"when": "< 0", "style": "negative"}, {"when": "> 40", "style": "fill"}],
    "ratio": [{"when": "< 0.1", "style": "fill"}],
}
CHART = {"type": "bar", "x": "label", "y": ["amount"]}


def sample_rows(count: int) -> list[list[Any]]:
    rng = random.Random(1)
    start = datetime(2026, 1, 1, 9)
    return [
        [i, i * 10**9, round(rng.random() * 1000, 2), rng.random(), f"row {i}",
         date(2026, 1, 1) + timedelta(days=i % 365), start + timedelta(minutes=i),
         i % 2 == 0, rng.randint(-5, 50), None if i % 3 else "x"]
        for i in range(count)
    ]  # fmt: skip


def context(columns: dict[str, Any], chart: Any = None, locale: Any = None) -> ExportContext:
    specs, errors = read_columns(columns)
    spec, chart_errors = read_chart(chart, specs) if chart else (None, [])
    assert not errors and not chart_errors, errors + chart_errors
    return ExportContext(
        "Bench", datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("UTC"), "", specs, locale, spec
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    highlighted = {k: {**v, "highlight": RULES[k]} if k in RULES else v for k, v in FORMATS.items()}
    configs = {
        "plain": context({}),
        "formats+totals": context(FORMATS),
        "+highlights+chart": context(highlighted, CHART),
        "+locale de": context(highlighted, CHART, "de"),
    }
    pool = sample_rows(100_000)  # reused: the writer's work, not building rows, is measured
    columns = [Column(n) for n in NAMES]
    times: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for name, ctx in configs.items():
                started = time.process_time()
                writer = XlsxExporter().open(Path(folder) / "bench.xlsx", columns, ctx, {})
                for offset in range(0, args.rows, BATCH):
                    at = offset % len(pool)
                    writer.write_batch(pool[at : at + min(BATCH, args.rows - offset)])
                writer.close()
                times[name].append(time.process_time() - started)
    base = statistics.median(times["plain"])
    print(f"xlsx, {args.rows:,} rows x {len(NAMES)} columns, CPU seconds, {args.rounds} rounds")
    for name, runs in times.items():
        median = statistics.median(runs)
        shown = ", ".join(f"{t:.2f}" for t in runs)
        print(f"{name:20s} median {median:6.2f} s ({shown})  {100 * (median / base - 1):+5.1f}%")


if __name__ == "__main__":
    main()
