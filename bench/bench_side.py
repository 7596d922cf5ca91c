"""When the second process pays: a run's writers with and without it, by result size.

Each case is ``formats:source`` (``xlsx+csv+pdf:postgresql``, ``csv:sqlite``, ...) and is
run, in its own child process timed by the parent (wall seconds, start-up included as a
run pays it), with each variant, the rounds interleaved:

* ``auto`` - the run's rule (``RunWriters`` as the runner makes it: a second process past
  ``EXPORT_SECOND_PROCESS_ROWS`` rows of COPY text);
* ``forced`` - a second process whenever the code would use one at all (``side_rows=0``;
  with code from before that setting: its own rule, from the second batch);
* ``one`` - every writer in the run's process.

``--baseline NAME=DIR`` (repeatable) adds a column NAME: the same case with the code of
DIR (a checkout of another commit: ``git worktree add DIR <commit>``) and its own rule
for the second process (``forced``), run by this script's child. The table (median of
``--repeat``, then every run) goes to stdout.

Usage (from the repository root)::

    .venv/bin/python bench/bench_side.py --rows 20000,100000,1000000 --repeat 3 \\
        --cases xlsx+csv+pdf:postgresql,csv:postgresql,csv:sqlite,xlsx:sqlite \\
        --variants auto,forced,one --baseline before=/tmp/base
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT

CHILD = """
import inspect, sys, tempfile
from pathlib import Path
sys.path.insert(0, {bench!r})
sys.path.insert(0, {code!r})
import bench_export
from common import default_dsn
try:
    from src.services.export import writers
except ImportError:  # code from before the second process
    writers = None
formats, source, rows, variant = sys.argv[1].split("+"), sys.argv[2], int(sys.argv[3]), sys.argv[4]
if (variant == "forced" and writers is not None
        and "side_rows" in inspect.signature(writers.RunWriters).parameters):
    opened = writers.RunWriters.__init__
    def forced(self, *args, **kwargs):
        opened(self, *args, **{{**kwargs, "side_rows": 0}})
    writers.RunWriters.__init__ = forced
bench_export.child_tool(
    default_dsn(), rows, Path(tempfile.mkdtemp()), formats, source=source,
    side=variant != "one",
)
"""


def run(code: Path, case: str, rows: int, variant: str) -> float:
    formats, source = case.split(":")
    child = CHILD.format(bench=str(ROOT / "bench"), code=str(code))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", child, formats, source, str(rows), variant], check=True, cwd=code
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="20000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cases", default="xlsx+csv+pdf:postgresql,csv:postgresql,csv:sqlite,xlsx:sqlite"
    )
    parser.add_argument("--variants", default="auto,forced,one")
    parser.add_argument("--baseline", action="append", default=[], metavar="NAME=DIR")
    args = parser.parse_args()
    variants = [(ROOT, v) for v in args.variants.split(",")]
    for baseline in args.baseline:
        name, _, folder = baseline.partition("=")
        variants.append((Path(folder).resolve(), name))
    ours = set(args.variants.split(","))
    times: dict[tuple[int, str, str], list[float]] = {}
    for _ in range(args.repeat):
        for rows in (int(r) for r in args.rows.split(",")):
            for case in args.cases.split(","):
                for code, variant in variants:
                    mode = variant if variant in ours else "forced"
                    key = (rows, case, variant)
                    times.setdefault(key, []).append(run(code, case, rows, mode))
    print("| rows | case | " + " | ".join(v for _, v in variants) + " |")
    print("|---:|---|" + "---:|" * len(variants))
    for rows in (int(r) for r in args.rows.split(",")):
        for case in args.cases.split(","):
            cells = [
                f"{statistics.median(times[(rows, case, v)]):.2f}"
                + f" ({' / '.join(f'{t:.2f}' for t in times[(rows, case, v)])})"
                for _, v in variants
            ]
            print(f"| {rows:,} | {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
