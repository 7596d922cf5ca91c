"""Export benchmark: this tool's exporters against ``psql \\copy`` and pandas, side by side.

Every contender runs in its own child process; the parent measures the child's wall
time and reads its peak RSS from ``os.wait4`` (the rusage of that one child), so
one contender's memory never hides another's.

Contenders (same query, same table, ``ORDER BY id``):

* ``copy``   - ``psql -c "\\copy (query) to file csv header"``: the floor.
* ``csv_copy`` - this tool's CSV fast path (QueryService.copy_csv: ``COPY ... TO STDOUT``
  through psycopg2 into the file, CRLF record ends, preview read back), what a
  CSV-only PostgreSQL task runs.
* ``fetch_raw`` - psycopg2 named cursor, rows fetched and dropped: the floor for Python.
* ``fetch``  - the same through this tool's QueryService (SQLAlchemy): the floor for a run.
* ``csv`` / ``xlsx`` / ``pdf`` - this tool's exporters fed by QueryService
  (server-side cursor, batches of 10,000 rows; pdf capped at its default 5,000 rows).
* ``all``    - xlsx + csv + pdf written from ONE pass over the rows (how a run does it).
* ``pandas`` - ``pandas.read_sql`` + ``DataFrame.to_excel`` (openpyxl): what a user
  would write by hand.

Usage (from the repository root)::

    bench/run.sh                                 # setup + 100k and 1M rows, all contenders
    .venv/bin/python bench/bench_export.py --rows 100000 --contenders xlsx,csv

The database comes from ``BENCH_DSN``, else ``TEST_PG_URL`` in .test-services.env
(the ``dbsched`` role and ``dbsched_test`` database made by scripts/setup-services.sh).
The 1,000,000-row table ``bench_export`` is created there when missing (``--setup``
recreates it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The test database made by scripts/setup-services.sh (role dbsched).
DEFAULT_DSN = "postgresql://dbsched:dbsched@127.0.0.1:5432/dbsched_test"
TABLE = "bench_export"
BATCH = 10_000
ALL_CONTENDERS = ("copy", "csv_copy", "fetch_raw", "fetch", "csv", "xlsx", "pdf", "all", "pandas")

# Ten columns: ints (with NULLs), timestamps, dates, text (with NULLs), numeric, float,
# booleans. Timestamps are without zone so the pandas baseline can write them at all
# (to_excel refuses tz-aware datetimes).
SETUP_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id          integer PRIMARY KEY,
    customer_id bigint,
    created_at  timestamp,
    order_date  date,
    customer    text,
    note        text,
    amount      numeric(12, 2),
    ratio       double precision,
    paid        boolean,
    status      text
);
INSERT INTO {TABLE}
SELECT g,
       CASE WHEN g % 10 = 0 THEN NULL ELSE (g::bigint * 7919) % 100000 END,
       timestamp '2024-01-01 00:00:00' + g * interval '37 seconds',
       date '2020-01-01' + (g % 2000),
       'customer ' || g,
       CASE WHEN g % 3 = 0 THEN NULL ELSE md5(g::text) END,
       round(((g * 31) % 1000000) / 7.0, 2),
       g / 7.0,
       g % 2 = 0,
       (ARRAY['new', 'paid', 'shipped', 'cancelled'])[g % 4 + 1]
FROM generate_series(1, 1000000) AS g;
ANALYZE {TABLE};
"""


def default_dsn() -> str:
    """BENCH_DSN, else TEST_PG_URL from .test-services.env, else the dbsched default."""
    if os.environ.get("BENCH_DSN"):
        return os.environ["BENCH_DSN"]
    env_file = ROOT / ".test-services.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("TEST_PG_URL="):
                return (
                    line.partition("=")[2]
                    .strip()
                    .replace("postgresql+psycopg2://", "postgresql://")
                )
    return DEFAULT_DSN


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg2://", 1)


def query(rows: int) -> str:
    return f"SELECT * FROM {TABLE} WHERE id <= {int(rows)} ORDER BY id"


# --------------------------------------------------------------------------- children


def _stream(dsn: str, sql: str) -> tuple[list[Any], Any]:
    """Columns and row batches through this tool's QueryService (server-side cursor)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from src.services.query import QueryService

    service = QueryService({"DB_BENCH_URL": sqlalchemy_url(dsn)})
    block = service.execute(
        "bench", sql, run_at=datetime.now(UTC), zone=ZoneInfo("UTC"),
        timeout_seconds=3600, read_only=True, batch_size=BATCH,
    )  # fmt: skip
    result = block.__enter__()

    def batches() -> Any:
        yield from result.batches
        block.__exit__(None, None, None)
        service.close()

    return result.columns, batches()


def child_fetch(dsn: str, rows: int, out: Path) -> int:
    _columns, batches = _stream(dsn, query(rows))
    return sum(len(b) for b in batches)


def child_fetch_raw(dsn: str, rows: int, out: Path) -> int:
    """psycopg2 named cursor, no SQLAlchemy: the floor for any Python-side export."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    cur = conn.cursor(name="bench_export")
    cur.execute(query(rows))
    n = 0
    while batch := cur.fetchmany(BATCH):
        n += len(batch)
    conn.close()
    return n


def child_csv_copy(dsn: str, rows: int, out: Path) -> int:
    """The CSV fast path, as the runner calls it for a CSV-only PostgreSQL task."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from src.services.query import QueryService

    service = QueryService({"DB_BENCH_URL": sqlalchemy_url(dsn)})
    copied = service.copy_csv(
        "bench", query(rows), run_at=datetime.now(UTC), zone=ZoneInfo("Europe/Berlin"),
        timeout_seconds=3600, read_only=True, path=out / "bench.csv", preview_rows=20,
    )  # fmt: skip
    service.close()
    if copied is None:
        raise SystemExit("csv_copy: the COPY path did not apply")
    return copied.rows


def child_tool(dsn: str, rows: int, out: Path, formats: list[str]) -> int:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from src.services.export import ExportContext, get_exporter

    columns, batches = _stream(dsn, query(rows))
    context = ExportContext(title="bench", run_at=datetime.now(UTC), zone=ZoneInfo("Europe/Berlin"))
    writers = []
    for name in formats:
        exporter = get_exporter(name)
        options: dict[str, Any] = {}
        if name == "pdf" and "xlsx" in formats:
            options["full_result_in"] = "xlsx"
        writers.append(
            exporter.open(out / f"bench.{exporter.extension}", columns, context, options)
        )
    n = 0
    for batch in batches:
        n += len(batch)
        for w in writers:
            w.write_batch(batch)
    for w in writers:
        w.close()
    return n


def child_pandas(dsn: str, rows: int, out: Path) -> int:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(sqlalchemy_url(dsn))
    df = pd.read_sql(query(rows), engine)
    df.to_excel(out / "pandas.xlsx", index=False, engine="openpyxl")
    return len(df)


def run_child(contender: str, dsn: str, rows: int, out: Path) -> int:
    if contender == "fetch":
        return child_fetch(dsn, rows, out)
    if contender == "fetch_raw":
        return child_fetch_raw(dsn, rows, out)
    if contender == "csv_copy":
        return child_csv_copy(dsn, rows, out)
    if contender in ("csv", "xlsx", "pdf"):
        return child_tool(dsn, rows, out, [contender])
    if contender == "all":
        return child_tool(dsn, rows, out, ["xlsx", "csv", "pdf"])
    if contender == "pandas":
        return child_pandas(dsn, rows, out)
    raise SystemExit(f"unknown contender {contender!r}")


# --------------------------------------------------------------------------- parent


def measure(contender: str, dsn: str, rows: int) -> dict[str, Any]:
    """Run one contender in a child process; wall time, peak RSS of that child, file sizes."""
    out = Path(tempfile.mkdtemp(prefix=f"bench-{contender}-"))
    try:
        if contender == "copy":
            target = out / "copy.csv"
            argv = [
                "psql", dsn, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                f"\\copy ({query(rows)}) to '{target}' csv header",
            ]  # fmt: skip
        else:
            argv = [
                sys.executable, str(Path(__file__).resolve()), "--child", contender,
                "--rows", str(rows), "--out", str(out), "--dsn", dsn,
            ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{contender} at {rows} rows failed (exit {proc.returncode})")
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        return {
            "contender": contender,
            "rows": rows,
            "seconds": round(wall, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
            "files": sizes,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | contender | wall time (s) | peak RSS (MB) | output |",
        "|---:|---|---:|---:|---|",
    ]
    for r in results:
        files = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r["files"].items())
        lines.append(
            f"| {r['rows']:,} | {r['contender']} | {r['seconds']:.2f} | {r['peak_rss_mb']:.0f}"
            f" | {files} |"
        )
    by = {(r["rows"], r["contender"]): r for r in results}
    lines.append("")
    for rows in sorted({r["rows"] for r in results}):
        pandas, xlsx = by.get((rows, "pandas")), by.get((rows, "xlsx"))
        copy, csv_ = by.get((rows, "copy")), by.get((rows, "csv"))
        csv_copy = by.get((rows, "csv_copy"))
        if pandas and xlsx:
            lines.append(
                f"- {rows:,} rows: xlsx is {pandas['seconds'] / xlsx['seconds']:.1f}x faster "
                f"than pandas (target >= 5x)"
            )
        if copy and csv_:
            lines.append(
                f"- {rows:,} rows: csv takes {csv_['seconds'] / copy['seconds']:.2f}x the time "
                f"of \\copy (target <= 2x)"
            )
        if copy and csv_copy:
            lines.append(
                f"- {rows:,} rows: csv (COPY path) takes "
                f"{csv_copy['seconds'] / copy['seconds']:.2f}x the time of \\copy (target <= 2x)"
            )
    sizes = sorted({r["rows"] for r in results})
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        for name in ("csv_copy", "csv", "xlsx", "pdf", "all"):
            a, b = by.get((small, name)), by.get((big, name))
            if a and b:
                growth = b["peak_rss_mb"] / a["peak_rss_mb"] - 1
                lines.append(
                    f"- {name}: peak RSS {a['peak_rss_mb']:.0f} MB at {small:,} rows, "
                    f"{b['peak_rss_mb']:.0f} MB at {big:,} rows ({growth:+.0%}; target "
                    f"< 150 MB and within 20%)"
                )
    return "\n".join(lines)


def setup(dsn: str) -> None:
    subprocess.run(
        ["psql", dsn, "-q", "-v", "ON_ERROR_STOP=1"], input=SETUP_SQL, text=True, check=True,
        timeout=600,
    )  # fmt: skip


def table_ready(dsn: str) -> bool:
    probe = subprocess.run(
        ["psql", dsn, "-tAq", "-c", f"SELECT count(*) FROM {TABLE}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return probe.returncode == 0 and probe.stdout.strip() == "1000000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dsn",
        default=default_dsn(),
        help="libpq URL (default: BENCH_DSN, else TEST_PG_URL of .test-services.env)",
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="(re)create the 1M-row table (done anyway when it is missing)",
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--contenders", default=",".join(ALL_CONTENDERS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        n = run_child(args.child, args.dsn, args.rows[0], args.out)
        if n != args.rows[0]:
            raise SystemExit(f"{args.child}: expected {args.rows[0]} rows, got {n}")
        return
    if args.setup or not table_ready(args.dsn):
        print(f"creating {TABLE} (1,000,000 rows)...", file=sys.stderr, flush=True)
        setup(args.dsn)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; known: {', '.join(ALL_CONTENDERS)}")
    results = []
    for rows in args.rows:
        for contender in contenders:
            result = measure(contender, args.dsn, rows)
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
