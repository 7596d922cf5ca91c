"""Export benchmark: this tool's exporters against ``psql \\copy`` and pandas, side by side.

Every contender runs in its own child process; the parent measures the child's wall
time and reads its peak RSS from ``os.wait4`` (the rusage of that one child), so
one contender's memory never hides another's, and its CPU time (user + system, all its
threads; the database server's work is not in it), which the machine's load sways far
less than the wall clock. With ``--repeat N`` every contender runs
N times, the rounds interleaved (each round runs every contender once), and the tables
show the median of each; the load average before each round is printed with it.

Contenders (same query, same table, ``ORDER BY id``):

* ``copy``   - ``psql -c "\\copy (query) to file csv header"``: the floor.
* ``csv_copy`` - this tool's CSV fast path (QueryService.copy_csv: ``COPY ... TO STDOUT``
  through psycopg2 into the file, CRLF record ends, preview read back), what a
  CSV-only PostgreSQL task runs.
* ``fetch_raw`` - psycopg2 named cursor, rows fetched and dropped: the old floor for Python.
* ``fetch``  - the rows through this tool's QueryService (``COPY`` text batches on
  PostgreSQL), fetched and dropped: the floor for a run.
* ``csv`` / ``xlsx`` / ``pdf`` - this tool's exporters fed by QueryService
  (batches of 10,000 rows; pdf capped at its default 5,000 rows).
* ``xlsx_formats`` - xlsx with a task's column formats, totals and highlights (currency,
  number, date and date-time patterns, boolean words, sum / avg / max / count totals, a
  bold and a filled highlight rule).
* ``all``    - xlsx + csv + pdf written from ONE pass over the rows (how a run does it).
* ``pandas`` - ``pandas.read_sql`` + ``DataFrame.to_excel`` (openpyxl): what a user
  would write by hand.
* ``xlsx_mariadb`` / ``csv_mariadb`` / ``xlsx_sqlite`` / ``csv_sqlite`` - the same table
  in MariaDB (``TEST_MARIADB_URL``) and in a SQLite file (``var/bench_export.db``).
* ``csv_cursor`` - csv from PostgreSQL through the cursor path (``use_copy=False``: rows
  of Python values, what a statement COPY cannot take gets: ``... RETURNING``,
  ``EXPLAIN``, ``SHOW``, ``CALL``).
* ``csv_one_process`` / ``all_one_process`` - ``csv`` / ``all`` with every writer in the
  run's process (no second process: ``EXPORT_IN_ONE_PROCESS=1``).
* ``fetch_sqlite`` / ``fetch_mariadb`` - the sqlite3 module and PyMySQL's unbuffered
  cursor alone, rows fetched and dropped: the floors of those sources.

``--baseline DIR`` runs every contender but ``copy`` and ``pandas`` a second time with
the code of DIR (a checkout of another commit: ``git worktree add /tmp/base main``), as
``<contender>@base``, in the same rounds: before and after, side by side.

Usage (from the repository root)::

    bench/run.sh                                 # setup + 100k and 1M rows, all contenders
    .venv/bin/python bench/bench_export.py --rows 100000 --contenders xlsx,csv

The database comes from ``BENCH_DSN``, else ``TEST_PG_URL`` in .test-services.env
(the ``dbsched`` role and ``dbsched_test`` database made by scripts/setup-services.sh).
The 1,000,000-row table ``bench_export`` is created there when missing (``--setup``
recreates it), and so are its MariaDB and SQLite copies.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, default_dsn, mariadb_url

TABLE = "bench_export"
BATCH = 10_000
ALL_CONTENDERS = (
    "copy", "csv_copy", "fetch_raw", "fetch", "csv", "xlsx", "xlsx_formats", "pdf", "all",
    "pandas", "xlsx_mariadb", "csv_mariadb", "xlsx_sqlite", "csv_sqlite", "csv_cursor",
    "all_one_process", "csv_one_process", "fetch_sqlite", "fetch_mariadb",
)  # fmt: skip
#: Contenders that are not this tool's code (no "@base" run for them).
NOT_OURS = ("copy", "pandas", "fetch_raw", "fetch_sqlite", "fetch_mariadb")
SQLITE_FILE = ROOT / "var" / "bench_export.db"
#: Where a contender writes its peak RSS and its children's (kB), summed by the parent.
RSS_FILE = "peak-rss.json"
#: The task's columns for ``xlsx_formats``.
FORMATS = {
    "customer_id": {"format": "integer", "total": "count"},
    "created_at": {"format": "datetime", "pattern": "dd.mm.yyyy hh:mm"},
    "order_date": {"format": "date", "pattern": "dd.mm.yyyy", "total": "max"},
    "amount": {
        "label": "Amount",
        "format": "currency",
        "currency": "EUR",
        "total": "sum",
        "highlight": [{"when": ">= 100000", "style": "strong"}],
    },
    "ratio": {
        "format": "number",
        "decimals": 2,
        "total": "avg",
        "highlight": [{"when": "< 1000", "style": "fill"}],
    },
    "paid": {"format": "boolean", "words": ["paid", "open"]},
}

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


MARIADB_SETUP_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id integer PRIMARY KEY, customer_id bigint, created_at datetime, order_date date,
    customer text, note text, amount decimal(12, 2), ratio double, paid boolean, status text
) CHARACTER SET utf8mb4;
INSERT INTO {TABLE}
SELECT seq, IF(seq % 10 = 0, NULL, (seq * 7919) % 100000),
       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (seq * 37) SECOND,
       DATE '2020-01-01' + INTERVAL (seq % 2000) DAY, CONCAT('customer ', seq),
       IF(seq % 3 = 0, NULL, MD5(seq)), ROUND(((seq * 31) % 1000000) / 7.0, 2), seq / 7.0,
       seq % 2 = 0, ELT(seq % 4 + 1, 'new', 'paid', 'shipped', 'cancelled')
FROM seq_1_to_1000000
"""

SQLITE_SETUP_SQL = f"""
CREATE TABLE {TABLE} (
    id integer PRIMARY KEY, customer_id bigint, created_at timestamp, order_date date,
    customer text, note text, amount numeric(12, 2), ratio double precision, paid boolean,
    status text
);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000000)
INSERT INTO {TABLE}
SELECT n, CASE WHEN n % 10 = 0 THEN NULL ELSE (n * 7919) % 100000 END,
       datetime('2024-01-01', '+' || (n * 37) || ' seconds'),
       date('2020-01-01', '+' || (n % 2000) || ' days'), 'customer ' || n,
       CASE WHEN n % 3 = 0 THEN NULL ELSE lower(hex(randomblob(16))) END,
       round(((n * 31) % 1000000) / 7.0, 2), n / 7.0, n % 2 = 0,
       CASE n % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'cancelled' END
FROM g;
"""


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg2://", 1)


def query(rows: int) -> str:
    return f"SELECT * FROM {TABLE} WHERE id <= {int(rows)} ORDER BY id"


# --------------------------------------------------------------------------- children


def _stream(
    dsn: str, sql: str, source: str = "postgresql", use_copy: bool = True
) -> tuple[list[Any], Any]:
    """Columns and row batches through this tool's QueryService."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from src.services.query import QueryService

    url = {
        "postgresql": sqlalchemy_url(dsn),
        "mariadb": mariadb_url() or "",
        "sqlite": f"sqlite:///{SQLITE_FILE}",
    }[source]
    service = QueryService({"DB_BENCH_URL": url})
    options = {} if use_copy else {"use_copy": False}  # (code from before COPY: no option)
    block = service.execute(
        "bench", sql, run_at=datetime.now(UTC), zone=ZoneInfo("UTC"),
        timeout_seconds=3600, read_only=True, batch_size=BATCH, **options,
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


def _fetched(cursor: Any) -> int:
    """Rows fetched from a DB-API cursor in batches and dropped: how many."""
    n = 0
    while batch := cursor.fetchmany(BATCH):
        n += len(batch)
    return n


def child_fetch_raw(dsn: str, rows: int, out: Path) -> int:
    """psycopg2 named cursor, no SQLAlchemy: the floor for any Python-side export."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    cur = conn.cursor(name="bench_export")
    cur.execute(query(rows))
    n = _fetched(cur)
    conn.close()
    return n


def child_fetch_sqlite(dsn: str, rows: int, out: Path) -> int:
    """The sqlite3 module alone: the floor for any export from SQLite."""
    db = sqlite3.connect(f"file:{SQLITE_FILE}?mode=ro", uri=True)
    n = _fetched(db.execute(query(rows)))
    db.close()
    return n


def child_fetch_mariadb(dsn: str, rows: int, out: Path) -> int:
    """PyMySQL's unbuffered cursor alone: the floor for any export from MariaDB."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(mariadb_url() or "")
    raw = engine.raw_connection()
    import pymysql.cursors

    cur = raw.cursor(pymysql.cursors.SSCursor)
    cur.execute(query(rows))
    n = _fetched(cur)
    raw.close()
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


def child_tool(
    dsn: str, rows: int, out: Path, formats: list[str], source: str = "postgresql",
    columns_spec: dict[str, Any] | None = None, use_copy: bool = True, side: bool = True,
) -> int:  # fmt: skip
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from src.core.column_format import read_columns
    from src.services.export import ExportContext, get_exporter

    specs, errors = read_columns(columns_spec or {})
    if errors:
        raise SystemExit(f"bad columns: {errors}")
    columns, batches = _stream(dsn, query(rows), source, use_copy)
    context = ExportContext(
        title="bench", run_at=datetime.now(UTC), zone=ZoneInfo("Europe/Berlin"), columns=specs
    )
    files = []
    for name in formats:
        exporter = get_exporter(name)
        options: dict[str, Any] = {}
        if name == "pdf" and "xlsx" in formats:
            options["full_result_in"] = "xlsx"
        files.append((name, out / f"bench.{exporter.extension}", options))
    try:  # the run's writers: some in a side process for a big COPY result
        from src.services.export.writers import RunWriters
    except ImportError:  # code from before the side process (--baseline)
        RunWriters = None
    n = 0
    if RunWriters is not None:
        writers = RunWriters(files, columns, context, side=side)
        for batch in batches:
            n += len(batch)
            writers.write_batch(batch)
        writers.close()
        return n
    opened = [get_exporter(name).open(path, columns, context, o) for name, path, o in files]
    for batch in batches:
        n += len(batch)
        for w in opened:
            w.write_batch(batch)
    for w in opened:
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
    if contender == "fetch_sqlite":
        return child_fetch_sqlite(dsn, rows, out)
    if contender == "fetch_mariadb":
        return child_fetch_mariadb(dsn, rows, out)
    if contender == "csv_copy":
        return child_csv_copy(dsn, rows, out)
    if contender in ("csv", "xlsx", "pdf"):
        return child_tool(dsn, rows, out, [contender])
    if contender == "xlsx_formats":
        return child_tool(dsn, rows, out, ["xlsx"], columns_spec=FORMATS)
    if contender in ("xlsx_mariadb", "csv_mariadb", "xlsx_sqlite", "csv_sqlite"):
        fmt, source = contender.split("_")
        return child_tool(dsn, rows, out, [fmt], source=source)
    if contender == "all":
        return child_tool(dsn, rows, out, ["xlsx", "csv", "pdf"])
    if contender == "all_one_process":
        return child_tool(dsn, rows, out, ["xlsx", "csv", "pdf"], side=False)
    if contender == "csv_one_process":
        return child_tool(dsn, rows, out, ["csv"], side=False)
    if contender == "csv_cursor":
        return child_tool(dsn, rows, out, ["csv"], use_copy=False)
    if contender == "pandas":
        return child_pandas(dsn, rows, out)
    raise SystemExit(f"unknown contender {contender!r}")


# --------------------------------------------------------------------------- parent


def measure(contender: str, dsn: str, rows: int, code: Path = ROOT) -> dict[str, Any]:
    """Run one contender in a child process; wall time, peak RSS of that child, file sizes.
    ``code``: the checkout whose ``src`` the child imports (another one for ``@base``)."""
    name = contender if code == ROOT else f"{contender}@base"
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
        load = os.getloadavg()[0]
        proc = subprocess.Popen(argv, cwd=code, env={**os.environ, "PYTHONPATH": str(code)})
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{name} at {rows} rows failed (exit {proc.returncode})")
        peak_kb = usage.ru_maxrss  # Linux: kilobytes
        if (out / RSS_FILE).exists():  # both processes when the writers had a side one
            peak_kb = sum(json.loads((out / RSS_FILE).read_text()))
            (out / RSS_FILE).unlink()
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        return {
            "contender": name,
            "rows": rows,
            "seconds": round(wall, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "files": sizes,
            "load": round(load, 2),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (rows, contender): the median time and peak RSS of its runs."""
    grouped: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        grouped.setdefault((r["rows"], r["contender"]), []).append(r)
    out = []
    for (rows, contender), runs in grouped.items():
        out.append({
            "rows": rows, "contender": contender, "runs": len(runs),
            "seconds": statistics.median(r["seconds"] for r in runs),
            "all_seconds": [r["seconds"] for r in runs],
            "cpu_seconds": statistics.median(r.get("cpu_seconds", 0.0) for r in runs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
            "files": runs[-1]["files"],
        })  # fmt: skip
    return out


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | contender | wall time (s), median | runs (s) | CPU (s), median "
        "| peak RSS (MB) | output |",
        "|---:|---|---:|---|---:|---:|---|",
    ]
    table = medians(results)
    for r in table:
        files = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r["files"].items())
        runs = " / ".join(f"{s:.2f}" for s in r["all_seconds"])
        lines.append(
            f"| {r['rows']:,} | {r['contender']} | {r['seconds']:.2f} | {runs} "
            f"| {r['cpu_seconds']:.2f} | {r['peak_rss_mb']:.0f} | {files} |"
        )
    loads = [r["load"] for r in results if "load" in r]
    if loads:
        lines += [
            "",
            f"Load average (1 min) when a contender started: median "
            f"{statistics.median(loads):.1f}, from {min(loads):.1f} to {max(loads):.1f}.",
        ]
    by = {(r["rows"], r["contender"]): r for r in table}
    lines.append("")

    def ratio(rows: int, a: str, b: str, measure: str = "seconds") -> float | None:
        if (rows, a) in by and (rows, b) in by and by[(rows, b)][measure]:
            return float(by[(rows, a)][measure]) / float(by[(rows, b)][measure])
        return None

    checks = [
        ("xlsx", "copy", "xlsx takes {:.2f}x the time of \\copy (target <= 5x at 1M)"),
        ("pandas", "xlsx", "xlsx is {:.1f}x faster than pandas (target >= 30x at 1M)"),
        ("all", "xlsx", "all three formats take {:.2f}x the xlsx alone (target <= 1.3x)"),
        ("xlsx_formats", "xlsx", "formats, totals: {:.2f}x the plain xlsx (target <= 1.15x)"),
        ("csv_copy", "copy", "csv (COPY path) takes {:.2f}x the time of \\copy (target <= 1.5x)"),
        ("csv", "copy", "csv through the writers takes {:.2f}x the time of \\copy (target <= 3x)"),
        # the drivers' paths: measured beside their drivers alone (fetch_*), and against
        # the code before (@base: not slower), no target of their own
        ("csv_cursor", "copy", "csv (PostgreSQL's cursor path) takes {:.2f}x the time of \\copy"),
        ("fetch_raw", "copy", "psycopg2's named cursor alone takes {:.2f}x the time of \\copy"),
        ("csv_sqlite", "copy", "csv from SQLite takes {:.2f}x the time of \\copy"),
        ("fetch_sqlite", "copy", "the sqlite3 module alone takes {:.2f}x the time of \\copy"),
        ("csv_mariadb", "copy", "csv from MariaDB takes {:.2f}x the time of \\copy"),
        ("fetch_mariadb", "copy", "PyMySQL alone takes {:.2f}x the time of \\copy"),
    ]  # fmt: skip
    contenders = {r["contender"] for r in table}
    checks += [
        (f"{c}@base", c, f"{c}: before takes {{:.2f}}x the time of now")
        for c in sorted(contenders) if f"{c}@base" in contenders
    ]  # fmt: skip
    for rows in sorted({r["rows"] for r in table}):
        for a, b, words in checks:
            value = ratio(rows, a, b)
            if value is not None:
                line = f"- {rows:,} rows: " + words.format(value)
                cpu = ratio(rows, a, b, "cpu_seconds")
                if cpu is not None and "copy" not in (a, b):  # psql's CPU is not the server's
                    line += f"; CPU time {cpu:.2f}x"
                lines.append(line)
    sizes = sorted({r["rows"] for r in table})
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        for name in sorted(contenders - set(NOT_OURS)):
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


def setup_others(dsn: str, force: bool) -> None:
    """The same table in MariaDB (when configured) and in a SQLite file, when missing."""
    url = mariadb_url()
    if url:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        with engine.begin() as conn:
            try:
                ready = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {TABLE}").scalar() == 1_000_000
            except sqlalchemy.exc.ProgrammingError:  # no such table yet
                ready = False
        if force or not ready:
            print(f"creating {TABLE} in MariaDB...", file=sys.stderr, flush=True)
            with engine.begin() as conn:
                for statement in MARIADB_SETUP_SQL.split(";"):
                    if statement.strip():
                        conn.exec_driver_sql(statement.replace("%", "%%"))  # pyformat
        engine.dispose()
    if force or not SQLITE_FILE.exists():
        print(f"creating {SQLITE_FILE}...", file=sys.stderr, flush=True)
        SQLITE_FILE.parent.mkdir(exist_ok=True)
        SQLITE_FILE.unlink(missing_ok=True)
        db = sqlite3.connect(SQLITE_FILE)
        db.executescript(SQLITE_SETUP_SQL)
        db.commit()
        db.close()


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
    parser.add_argument("--repeat", type=int, default=1, help="rounds; tables show medians")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of other code to run side by side (@base)"
    )
    parser.add_argument(
        "--baseline-contenders", help="the contenders run @base too (default: all of ours)"
    )
    parser.add_argument("--once", default="", help="contenders run in the first round only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        n = run_child(args.child, args.dsn, args.rows[0], args.out)
        if n != args.rows[0]:
            raise SystemExit(f"{args.child}: expected {args.rows[0]} rows, got {n}")
        import resource

        # its own peak and its side process's (if any): the parent adds them up
        peaks = [resource.getrusage(who).ru_maxrss for who in
                 (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]  # fmt: skip
        (args.out / RSS_FILE).write_text(json.dumps(peaks))
        return
    if args.setup or not table_ready(args.dsn):
        print(f"creating {TABLE} (1,000,000 rows)...", file=sys.stderr, flush=True)
        setup(args.dsn)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; known: {', '.join(ALL_CONTENDERS)}")
    if any(c.endswith(("_mariadb", "_sqlite")) for c in contenders):
        setup_others(args.dsn, args.setup)
    based = set(args.baseline_contenders.split(",")) if args.baseline_contenders else None
    once = set(args.once.split(","))
    results = []
    for rows in args.rows:
        for round_ in range(args.repeat):
            for contender in contenders:
                if round_ and contender in once:
                    continue
                codes = [ROOT]
                if (
                    args.baseline
                    and contender not in NOT_OURS
                    and (based is None or contender in based)
                ):
                    codes.append(args.baseline.resolve())
                for code in codes:
                    result = measure(contender, args.dsn, rows, code)
                    print(json.dumps(result), file=sys.stderr, flush=True)
                    results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
