"""The PDF's rows: CPU time per 1,000 rows drawn, this code against another checkout.

Writes ``--rows`` rows of a 10-column result like bench/bench_export.py's table (ints
with NULLs, naive timestamps, dates that repeat, text, md5 notes with NULLs, decimals,
floats, booleans, a 4-value status) through ``get_exporter("pdf").open(...)`` in
batches of 10,000, in memory (no database: only the PDF's own work is timed). Each
measurement runs in its own child process and reads that process's CPU time
(``time.process_time``) around two phases:

* ``rows``  - ``open`` and every ``write_batch``: the table drawn on the canvas;
* ``close`` - the totals, the forms, compressing the pages and embedding the fonts.

The fonts are registered before the clock starts (once per process in a run too).

``--case report`` gives the columns formats (currency, dates, boolean words), a
highlight rule (negative amounts red, bold and filled) and totals, so the highlighted
cells and the totals row are timed too.

``--baseline DIR`` runs the same children with the code of DIR (a checkout of another
commit: ``git worktree add /tmp/pdf-base main``), interleaved round by round, and prints
before / after side by side with the medians of ``--repeat`` rounds.

Usage (from the repository root)::

    .venv/bin/python bench/bench_pdf.py --rows 5000 --repeat 5 --baseline /tmp/pdf-base
    .venv/bin/python bench/bench_pdf.py --case report --baseline /tmp/pdf-base
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import ROOT

BATCH = 10_000
COLUMNS = [
    "id", "customer_id", "created_at", "order_date", "customer", "note", "amount",
    "ratio", "paid", "status",
]  # fmt: skip
STATUSES = ("new", "paid", "shipped", "cancelled")
#: ``--case report``: the task's columns (formats, a highlight rule, totals).
REPORT_COLUMNS = {
    "customer_id": {"format": "integer", "total": "count"},
    "created_at": {"format": "datetime", "pattern": "dd.mm.yyyy hh:mm"},
    "order_date": {"format": "date", "pattern": "dd.mm.yyyy", "total": "max"},
    "amount": {
        "label": "Amount", "format": "currency", "currency": "EUR", "total": "sum",
        "highlight": [{"when": "< 0", "style": "negative"}, {"when": "< -100", "style": "fill"}],
    },
    "ratio": {"format": "number", "decimals": 2, "total": "avg"},
    "paid": {"format": "boolean", "words": ["paid", "open"]},
}  # fmt: skip


def make_rows(n: int) -> list[list[Any]]:
    """The rows bench_export.py's table holds, as the database driver gives them (a
    negative amount in every 7th row, for the highlight)."""
    start, day0 = datetime(2024, 1, 1), date(2020, 1, 1)
    rows = []
    for g in range(1, n + 1):
        amount = Decimal((g * 31) % 1_000_000) / 7
        rows.append([
            g,
            None if g % 10 == 0 else (g * 7919) % 100_000,
            start + timedelta(seconds=37 * g),
            day0 + timedelta(days=g % 2000),
            f"customer {g}",
            None if g % 3 == 0 else f"{g * 2654435761 % 2**128:032x}",
            (-amount if g % 7 == 0 else amount).quantize(Decimal("0.01")),
            g / 7.0,
            g % 2 == 0,
            STATUSES[g % 4],
        ])  # fmt: skip
    return rows


def child(rows: int, case: str) -> dict[str, float]:
    """Write the PDF in this process; CPU seconds of each phase."""
    from src.core.column_format import read_columns
    from src.core.result import Column
    from src.services.export import ExportContext, get_exporter
    from src.services.export.pdf_fonts import fonts

    fonts()  # registering the TTF files is once per process, not per file
    specs: dict[str, Any] = {}
    if case == "report":
        specs, errors = read_columns(REPORT_COLUMNS)
        assert not errors, errors
    context = ExportContext(
        "Bench", datetime(2026, 3, 2, 6, tzinfo=UTC), ZoneInfo("Europe/Berlin"), columns=specs
    )
    data = make_rows(rows)
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as out:
        path = Path(out) / "bench.pdf"
        t0 = time.process_time()
        writer = get_exporter("pdf").open(
            path, [Column(c) for c in COLUMNS], context, {"max_rows": rows}
        )
        for i in range(0, rows, BATCH):
            writer.write_batch(data[i : i + BATCH])
        t1 = time.process_time()
        done = writer.close()
        t2 = time.process_time()
        assert done.rows_written == rows, done
        return {"rows": t1 - t0, "close": t2 - t1, "bytes": path.stat().st_size}


def measure(code: Path, rows: int, case: str) -> dict[str, float]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--rows", str(rows),
            "--case", case]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(argv, cwd=code, env=env, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows drawn (default 5000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--case", choices=("plain", "report"), default="plain")
    parser.add_argument("--baseline", type=Path, help="a checkout of other code (before)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.rows, args.case)))
        return
    codes = {"now": ROOT}
    if args.baseline:
        if not (args.baseline / "src" / "services" / "export" / "pdf.py").exists():
            raise SystemExit(f"--baseline {args.baseline}: not a checkout of this project")
        codes = {"before": args.baseline.resolve(), **codes}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    for n in range(args.repeat):
        order = list(codes.items())
        if n % 2:  # alternate who goes first: a warm machine favours neither
            order.reverse()
        for name, code in order:
            runs[name].append(measure(code, args.rows, args.case))
    per = 1000 / args.rows
    print(f"{args.rows:,} rows, case {args.case}, median of {args.repeat} rounds, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| code | rows: CPU s per 1,000 rows, median (min) | close: CPU s, median | file |")
    print("|---|---:|---:|---:|")
    medians, minima = {}, {}
    for name, results in runs.items():
        medians[name] = statistics.median(r["rows"] for r in results) * per
        minima[name] = min(r["rows"] for r in results) * per
        close_cpu = statistics.median(r["close"] for r in results)
        size = results[-1]["bytes"] / 1e3
        print(f"| {name} | {medians[name]:.3f} ({minima[name]:.3f}) | {close_cpu:.3f} "
              f"| {size:.0f} kB |")  # fmt: skip
    if "before" in medians:
        print(
            f"\nDrawing the rows: {medians['before'] / medians['now']:.2f}x less CPU than "
            f"before (medians; minima {minima['before'] / minima['now']:.2f}x)"
        )


if __name__ == "__main__":
    main()
