"""Deflaters for the xlsx sheet: zlib, zlib-ng and ISA-L on the same sheet XML, side by side.

The XML is what the xlsx writer streams for the first ``--rows`` rows of the benchmark
table (bench_export.py creates it), rendered once and kept in memory; each deflater then
compresses it in 1 MiB chunks, as the writer hands them over. CPU time of the
compressing thread (what it takes from the second core) and the compressed size; the
median of ``--repeat`` rounds, the deflaters interleaved within a round.

    .venv/bin/python bench/bench_deflate.py --rows 1000000

ISA-L (``isal``) is only needed here (bench/requirements.txt): it is measured, not used.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_export  # noqa: E402

CHUNK = 1 << 20


def sheet_xml(rows: int) -> bytes:
    """The sheet rows' XML as the xlsx writer renders them (COPY text batches)."""
    from src.services.export.xlsx_cells import Cells
    from src.services.export.xlsx_text import TextCells
    from src.services.query import QueryService

    zone = ZoneInfo("Europe/Berlin")
    url = bench_export.sqlalchemy_url(bench_export.default_dsn())
    service = QueryService({"DB_BENCH_URL": url})
    parts = []
    with service.execute(
        "bench", bench_export.query(rows), run_at=datetime.now(UTC), zone=zone,
        timeout_seconds=3600, read_only=True, batch_size=10_000,
    ) as result:  # fmt: skip
        cells = Cells(zone)
        text = TextCells(zone, [None] * len(result.columns), lambda i, v: cells.cell(v))
        first = 2
        for batch in result.batches:
            parts.append(text.sheet_rows(batch, first).encode())  # type: ignore[arg-type]
            first += len(batch)
    service.close()
    return b"".join(parts)


def deflaters() -> dict[str, Any]:
    found: dict[str, Any] = {f"zlib {n}": (zlib, n) for n in (1, 6)}
    from zlib_ng import zlib_ng

    found.update({f"zlib-ng {n}": (zlib_ng, n) for n in (1, 2, 3, 4, 5, 6)})
    try:
        from isal import isal_zlib

        found.update({f"isal {n}": (isal_zlib, n) for n in (1, 2, 3)})
    except ImportError:
        print("isal is not installed (pip install -r bench/requirements.txt)", file=sys.stderr)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    xml = sheet_xml(args.rows)
    chunks = [xml[i : i + CHUNK] for i in range(0, len(xml), CHUNK)]
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, (module, level) in deflaters().items():
            start = time.thread_time()
            deflate = module.compressobj(level, module.DEFLATED, -15)
            size = sum(len(deflate.compress(c)) for c in chunks) + len(deflate.flush())
            times.setdefault(name, []).append(time.thread_time() - start)
            sizes[name] = size
    print(f"{args.rows:,} rows: {len(xml) / 1e6:.0f} MB of sheet XML\n")
    print("| deflater, level | CPU time (s), median | compressed (MB) | vs zlib 6 |")
    print("|---|---:|---:|---:|")
    for name, runs in times.items():
        print(
            f"| {name} | {statistics.median(runs):.2f} | {sizes[name] / 1e6:.1f} "
            f"| {sizes[name] / sizes['zlib 6'] - 1:+.0%} |"
        )


if __name__ == "__main__":
    main()
