"""A run's record as the history grows: the cost per run at 1,000 to 1,000,000 lines.

Each run is its own process, so each run's first append is a new RunHistory. Before,
that append read and parsed the whole file to decide about retention; now it reads the
first line. Side by side in one run, on the same files: the old decision (parse every
line, as ``RunHistory.prune`` does) and today's append (median of ``--repeat``).

Usage: ``python bench/bench_history.py [--lines 1000 100000 1000000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src.services.history import RunHistory  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def build(path: Path, lines: int) -> None:
    start = NOW - timedelta(days=30)
    step = timedelta(days=30) / lines
    with path.open("w", encoding="utf-8") as handle:
        for i in range(lines):
            at = (start + step * i).strftime("%Y-%m-%dT%H:%M:%SZ")
            event = "started" if i % 2 == 0 else "finished"
            handle.write(
                json.dumps(
                    {"event": event, "run_id": f"r{i // 2}", "at": at, "task_id": f"t{i % 97}"}
                )
                + "\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'lines':>9}  {'before: parse all':>18}  {'now: append':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for count in args.lines:
            path = Path(folder) / f"runs-{count}.jsonl"
            build(path, count)
            before, now = [], []
            for i in range(args.repeat):
                started = time.perf_counter()
                list(RunHistory(path).lines())  # what each run's first append used to do
                before.append(time.perf_counter() - started)
                started = time.perf_counter()
                RunHistory(path, keep_days=90).append("started", f"new{i}", NOW, task_id="t")
                now.append(time.perf_counter() - started)
            slow, fast = statistics.median(before) * 1000, statistics.median(now) * 1000
            print(f"{count:>9}  {slow:>15.1f} ms  {fast:>9.2f} ms")


if __name__ == "__main__":
    main()
