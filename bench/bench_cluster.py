"""Cluster benchmark: dispatch capacity of 1, 2 and 3 nodes, claim latency, database load.

In one run, side by side, on real ``scheduler_daemon.py`` processes (each with its own
data folder; trivial tasks: ``SELECT 1`` on a SQLite file, CSV, the email to each
node's outbox):

* ``single``: one daemon on tasks.json (no cluster), the baseline;
* ``cluster-N``: N daemons sharing one cluster database (a fresh PostgreSQL schema,
  migrated, dropped afterwards), for each N of ``--nodes`` (default 1 2 3).

For each setup:

* **Capacity.** The offered load ramps in steps (``--rates``, runs per minute): before a
  step, tasks are added so that ``tasks x (60 / --period)`` is the step's rate, each
  task an interval of ``--period`` seconds whose whole-second start spreads the tasks
  evenly over the period. Over ``--step-seconds`` (less the last few seconds, whose runs
  may not have recorded their start yet) every occurrence is looked up:

  - its *start lateness*, from the run history: the run's ``started_at`` minus its
    ``scheduled_for``. The history keeps whole seconds; with whole-second instants "under
    1 s late" is exactly "started within its scheduled second", so the p99 test is exact,
    though the figures are whole seconds. A run records its start in its own process,
    once that has imported the query, export and mail libraries;
  - its *dispatch lateness*, from the daemons' ``started`` events (JSON log): the run's
    process started minus the instant, in milliseconds: the scheduler's own part.

  An occurrence skipped (the no-overlap rule: its task's previous run still going) or
  not started by the end of the step counts as late in both. The capacity is the highest
  step whose p99 stays under 1 s, for each measure; the ramp stops at the first step
  whose dispatch p99 is past it.
* **Database load per node.** Each node reaches PostgreSQL through its own counting
  proxy (a TCP relay in this process that reads the protocol's message headers): the
  node's statements (every simple-protocol query, ``BEGIN``/``COMMIT`` included) and
  transactions (``COMMIT``s) per second, its daemon and its runs' processes together,
  while idle (``--idle-seconds``, no task) and during each step. pg_stat_database is
  not used: its counters are per database, and the bench's database is shared with
  whatever else runs there (the test suite); pg_stat_statements needs a superuser.
* **Daemon CPU** per node during each step (``/proc``; the runs' processes are not in it).

Then **claim latency**: ``Claims.claim`` timed directly against the database, with 1, 2
and 3 concurrent claimers (``--claimers``; separate processes, each its own connection
pool) racing for the same occurrences, as nodes do: one wins (``claimed``), the others
wait on the task's advisory lock and get ``taken``. ``--claim-rounds`` occurrences.

The machine's load average is printed with every setup. Medians and p99 use the
nearest rank; with fewer than 100 samples a p99 is the worst sample.

Usage (from the repository root; PostgreSQL from ``BENCH_DSN``, else ``TEST_PG_URL`` in
.test-services.env)::

    .venv/bin/python bench/bench_cluster.py                 # about 10 minutes
    .venv/bin/python bench/bench_cluster.py --rates 30 60 90 120 180 240 --step-seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import PY, default_dsn, start_daemon  # noqa: E402

from src.core.clock import parse_instant, to_utc_iso  # noqa: E402
from src.core.task import Task  # noqa: E402
from src.services.history import RunHistory, RunRecord  # noqa: E402
from src.services.task_store import TaskStore  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# -- the database: a fresh schema per setup ------------------------------------------------


@contextlib.contextmanager
def fresh_schema(dsn: str) -> Iterator[str]:
    """A URL whose search_path is a new schema (migrated to the cluster's head); dropped
    afterwards."""
    from src.services.cluster.database import dispose_engines, engine_for
    from src.services.cluster.schema import upgrade

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    base = make_url(dsn).set(drivername="postgresql+psycopg2")
    admin = sa.create_engine(base, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    text = url.render_as_string(hide_password=False)
    try:
        upgrade(engine_for(text, statement_timeout=120))  # DDL on a loaded machine
        yield text
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# -- a counting proxy in front of PostgreSQL -----------------------------------------------

STARTUP_CODE = 196608  # protocol 3.0


@dataclass
class Counts:
    statements: int = 0
    transactions: int = 0
    connections: int = 0


class _Frontend:
    """Reads what a client sends (startup, then typed messages) and counts its queries."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = bytearray()
        self.started = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:  # untyped: SSLRequest, GSSENCRequest, then the startup
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                del self.buffer[:length]
                self.started = code == STARTUP_CODE
                continue
            if len(self.buffer) < 5:
                return
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            if self.buffer[0] == ord("Q"):
                self.counts.statements += 1
                head = bytes(self.buffer[5 : min(1 + length, 5 + 16)]).lstrip().upper()
                if head.startswith(b"COMMIT"):
                    self.counts.transactions += 1
            del self.buffer[: 1 + length]


class CountingProxy:
    """One TCP relay per node, all served by one event loop in a thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def listen(self, counts: Counts) -> int:
        """A port on 127.0.0.1 whose traffic is counted into ``counts``."""

        async def serve() -> int:
            server = await asyncio.start_server(
                lambda r, w: self._relay(r, w, counts), "127.0.0.1", 0
            )
            return int(server.sockets[0].getsockname()[1])

        return asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counts: Counts
    ) -> None:
        counts.connections += 1
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        frontend = _Frontend(counts)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while data := await src.read(65536):
                    if count:
                        frontend.feed(data)
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass  # a connection the node or the server dropped: the other side sees it
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


def through(url: str, port: int) -> str:
    """``url`` by way of the proxy on ``port`` (plain text: the proxy reads the messages)."""
    return (
        make_url(url)
        .set(host="127.0.0.1", port=port)
        .update_query_dict({"sslmode": "disable", "gssencmode": "disable"})
        .render_as_string(hide_password=False)
    )


# -- daemons -----------------------------------------------------------------------------


class Node:
    """A real scheduler_daemon.py on its own folder; its JSON log read as it arrives."""

    def __init__(self, folder: Path, env: dict[str, str], counts: Counts | None) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        self.counts = counts
        (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        self.late_ms: dict[tuple[str, str], float] = {}
        process_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SMTP_", "DB_", "NOTIFY_", "CLUSTER_", "NODE_"))
            and k not in ("DATABASE_URL", "TASKS_FILE", "DATA_DIR", "ENV_FILE")
        }
        self.running = threading.Event()
        self.process = start_daemon(folder, process_env, self._on_event)

    def _on_event(self, item: dict[str, Any]) -> None:
        event = item.get("event")
        if event == "running":
            self.running.set()
        elif event == "started" and item.get("late_ms") is not None:
            key = (str(item.get("task_id")), str(item.get("scheduled_for")))
            self.late_ms[key] = float(item["late_ms"])
        elif item.get("level") in ("error", "critical"):
            print(f"  [{self.folder.name}] {item.get('message')}", flush=True)

    def wait_running(self, timeout: float = 120) -> None:
        if not self.running.wait(timeout):
            raise SystemExit(f"{self.folder.name}: not running after {timeout:g} s")

    def cpu_seconds(self) -> tuple[float, float]:
        """The daemon's own CPU seconds, and its ended runs' (children it has waited for)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick, (
            int(fields[13]) + int(fields[14])
        ) / tick

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# -- one setup: a ramp --------------------------------------------------------------------


INF = float("inf")
#: the end of a step whose occurrences are not counted (their runs may not have recorded
#: their start yet); the load is still measured over the whole step
GRACE_SECONDS = 6


@dataclass
class Step:
    rate: int  # offered runs per minute
    tasks: int
    occurrences: int = 0
    skipped: int = 0  # the no-overlap rule: the task's previous run was still going
    not_started: int = 0  # by the end of the step
    #: per occurrence: the run's start minus its instant, from the history (whole
    #: seconds: the history keeps seconds), INF when skipped or not started
    start_s: list[float] = field(default_factory=list)
    #: per occurrence: the daemon's dispatch (run process started) minus its instant,
    #: from its ``started`` event, in ms; INF when skipped or not started
    dispatch_ms: list[float] = field(default_factory=list)
    statements_per_s: list[float] = field(default_factory=list)  # per node
    transactions_per_s: list[float] = field(default_factory=list)
    cpu_percent: list[float] = field(default_factory=list)  # per daemon (not its runs)
    #: CPU seconds of the runs that ended during the step, all nodes, per run started
    cpu_per_run: float = 0.0
    started: int = 0  # runs started during the step (all occurrences, counted or not)
    load: str = ""

    @property
    def start_ok(self) -> bool:
        """Lateness p99 from the history under 1 s (the issue's test)."""
        return bool(self.start_s) and pct(self.start_s, 0.99) < 1.0

    @property
    def dispatch_ok(self) -> bool:
        """Dispatch lateness p99 under 1 s."""
        return bool(self.dispatch_ms) and pct(self.dispatch_ms, 0.99) < 1000.0


@dataclass
class Setup:
    name: str
    nodes: int
    idle_statements_per_s: list[float] = field(default_factory=list)
    idle_transactions_per_s: list[float] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    load_before: str = ""

    def capacity(self, ok: str) -> str:
        """The highest rate that passed (``ok``: ``start_ok`` or ``dispatch_ok``), with
        ">=" when no step failed (the ramp stopped before the limit)."""
        passed = [step.rate for step in self.steps if getattr(step, ok)]
        failed = any(not getattr(step, ok) for step in self.steps)
        if not passed:
            return f"< {self.steps[0].rate}" if self.steps else "-"
        return f"{max(passed)}" if failed else f">= {max(passed)}"


def _task(index: int, period: int, start: datetime) -> Task:
    return Task.from_dict(
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "name": f"Bench {index:04d}",
            "query": "SELECT 1 AS x",
            "schedule": {"interval": f"{period}s", "start": to_utc_iso(start)},
            "timezone": "UTC",
            "email": {"to": ["boss@example.com"]},
            "export": {"formats": ["csv"]},
        }
    )


def _slots(count: int, period: int) -> list[int]:
    """Second offsets within the period for tasks 0..count-1, spread evenly whatever the
    count (each new task fills the least-used second)."""
    used = [0] * period
    offsets = []
    for _ in range(count):
        best = min(range(period), key=lambda s: (used[s], s))
        used[best] += 1
        offsets.append(best)
    return offsets


def _runs(history: Any) -> list[RunRecord]:
    runs: list[RunRecord] = history.runs()
    return runs


def _measure_step(
    step: Step,
    tasks: list[Task],
    window: tuple[datetime, datetime],
    runs: list[RunRecord],
    nodes: list[Node],
) -> None:
    first, last = window
    by_occurrence: dict[tuple[str, str], list[RunRecord]] = {}
    for run in runs:
        if run.data.get("trigger") in ("schedule", "catch-up") and run.data.get("scheduled_for"):
            by_occurrence.setdefault((run.task_id, str(run.data["scheduled_for"])), []).append(run)
    for task in tasks:
        moment = task.schedule.next_after(first - timedelta(microseconds=1))
        while moment is not None and moment < last:
            key = (task.id, to_utc_iso(moment))
            found = by_occurrence.get(key, [])
            started = [parse_instant(r.data["started_at"]) for r in found if "started_at" in r.data]
            step.occurrences += 1
            if started:
                step.start_s.append((min(started) - moment).total_seconds())
                dispatched = [n.late_ms[key] for n in nodes if key in n.late_ms]
                step.dispatch_ms.append(min(dispatched) if dispatched else INF)
            else:
                if any(r.status == "skipped" for r in found):
                    step.skipped += 1
                else:
                    step.not_started += 1
                step.start_s.append(INF)
                step.dispatch_ms.append(INF)
            moment = task.schedule.next_after(moment)


def run_setup(
    name: str, node_count: int, cluster_url: str | None, args: argparse.Namespace, tmp: Path
) -> Setup:
    setup = Setup(name, node_count, load_before=load())
    folder = tmp / name
    folder.mkdir()
    demo = folder / "demo.db"
    with sqlite3.connect(demo) as conn:
        conn.execute("CREATE TABLE sales (id INTEGER)")
    proxy = None
    nodes: list[Node] = []
    if cluster_url is not None:
        target = make_url(cluster_url)
        proxy = CountingProxy(target.host or "127.0.0.1", target.port or 5432)
    try:
        for index in range(node_count):
            env = {"DATABASE_URL": f"sqlite:///{demo}"}
            counts = None
            if cluster_url is not None and proxy is not None:
                counts = Counts()
                env["CLUSTER_DATABASE_URL"] = through(cluster_url, proxy.listen(counts))
                env["NODE_NAME"] = f"n{index}"
            nodes.append(Node(folder / f"n{index}", env, counts))
        for node in nodes:
            node.wait_running()
        if cluster_url is not None:
            from src.services.cluster.database import engine_for
            from src.services.cluster.run_log import ClusterRunLog
            from src.services.cluster.task_store import ClusterTaskStore

            engine = engine_for(cluster_url)
            store: TaskStore = ClusterTaskStore(engine, folder / "tasks.json")
            history: Any = ClusterRunLog(engine, "bench")
        else:
            store = TaskStore(nodes[0].folder / "tasks.json")
            history = RunHistory(nodes[0].folder / "data" / "runs.jsonl")

        time.sleep(2)  # start-up settles (first beats, first reload)
        before = _snapshot(nodes)
        time.sleep(args.idle_seconds)
        idle = _per_second(before, _snapshot(nodes), args.idle_seconds)
        setup.idle_statements_per_s, setup.idle_transactions_per_s = idle[0], idle[1]

        tasks: list[Task] = []
        # every task's start is origin + a whole number of periods + its offset: tasks
        # added at later steps keep the spread of the earlier ones
        origin = datetime.now(UTC).replace(microsecond=0)
        for rate in args.rates:
            count = max(1, round(rate * args.period / 60))
            step = Step(rate=rate, tasks=count)
            setup.steps.append(step)
            ahead = (datetime.now(UTC) - origin).total_seconds() + 3
            base = origin + timedelta(seconds=math.ceil(ahead / args.period) * args.period)
            offsets = _slots(count, args.period)
            new = [
                _task(i, args.period, base + timedelta(seconds=offsets[i]))
                for i in range(len(tasks), count)
            ]
            with store.transaction() as task_file:
                task_file.tasks.extend(new)
            tasks.extend(new)
            # measured from the first instant every task has fired at least once after
            first = base + timedelta(seconds=args.period)
            last = first + timedelta(seconds=args.step_seconds)
            _sleep_until(first)
            snapshot0 = _snapshot(nodes)
            _sleep_until(last)
            rates = _per_second(snapshot0, _snapshot(nodes), (last - first).total_seconds())
            step.statements_per_s, step.transactions_per_s, cpu, runs_cpu = rates
            step.cpu_percent = [x * 100 for x in cpu]
            seconds = (last - first).total_seconds()
            step.started = sum(
                1
                for run in _runs(history)
                if "started_at" in run.data
                and first <= parse_instant(run.data["started_at"]) < last
            )
            step.cpu_per_run = sum(runs_cpu) * seconds / max(step.started, 1)
            time.sleep(2.0)
            step.load = load()
            # occurrences of the last GRACE_SECONDS are not counted: a run records its start
            # once its process has imported the query, export and mail libraries, which
            # takes seconds on a loaded machine
            window = (first, last - timedelta(seconds=GRACE_SECONDS))
            _measure_step(step, tasks, window, _runs(history), nodes)
            print(_step_line(name, step), flush=True)
            if not step.dispatch_ok:
                break
    finally:
        for node in nodes:
            node.stop()
    return setup


def _snapshot(nodes: list[Node]) -> list[list[float]]:
    """Per node: statements, transactions (cluster nodes only), daemon CPU seconds, its
    ended runs' CPU seconds."""
    counted = [n.counts for n in nodes if n.counts is not None]
    cpu = [n.cpu_seconds() for n in nodes]
    return [
        [float(c.statements) for c in counted],
        [float(c.transactions) for c in counted],
        [own for own, _ in cpu],
        [runs for _, runs in cpu],
    ]


def _per_second(
    before: list[list[float]], after: list[list[float]], seconds: float
) -> list[list[float]]:
    return [
        [(a - b) / seconds for a, b in zip(later, earlier, strict=True)]
        for later, earlier in zip(after, before, strict=True)
    ]


def _sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def _ms(values: list[float], q: float) -> str:
    value = pct(values, q) if values else INF
    return "late" if value == INF else f"{value:.0f}"


def _s(values: list[float], q: float) -> str:
    value = pct(values, q) if values else INF
    return "late" if value == INF else f"{value:.0f}"


def _step_line(name: str, step: Step) -> str:
    return (
        f"  {name}: {step.rate}/min ({step.tasks} tasks): {step.occurrences} occurrences, "
        f"{step.skipped} skipped, {step.not_started} not started; start (history) p50 "
        f"{_s(step.start_s, 0.5)} s p99 {_s(step.start_s, 0.99)} s; dispatch p50 "
        f"{_ms(step.dispatch_ms, 0.5)} ms p99 {_ms(step.dispatch_ms, 0.99)} ms; "
        f"load {step.load}"
    )


# -- claim latency ----------------------------------------------------------------------


def _claimer(url: str, index: int, rounds: list[tuple[str, str]], barrier: Any, out: Any) -> None:
    from src.services.cluster.claims import Claims
    from src.services.cluster.database import engine_for

    claims = Claims(engine_for(url, node=f"c{index}"), f"c{index}", str(uuid.uuid4()))
    claims.claim(str(uuid.uuid4()), datetime.now(UTC) - timedelta(days=2), 1)  # warm the pool
    results: list[tuple[float, str]] = []
    for task_id, at in rounds:
        barrier.wait()
        started = time.perf_counter()
        claim = claims.claim(task_id, parse_instant(at), 1)
        results.append((time.perf_counter() - started, claim.outcome))
    out.put(results)


def claim_latency(dsn: str, claimers: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per claim, by outcome, with ``claimers`` processes racing for each
    occurrence."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    plan = [(str(uuid.uuid4()), to_utc_iso(base + timedelta(seconds=i))) for i in range(rounds)]
    by_outcome: dict[str, list[float]] = {}
    context = multiprocessing.get_context("spawn")
    with fresh_schema(dsn) as url:
        barrier = context.Barrier(claimers)
        out = context.Queue()
        workers = [
            context.Process(target=_claimer, args=(url, i, plan, barrier, out))
            for i in range(claimers)
        ]
        for worker in workers:
            worker.start()
        for _ in workers:
            for seconds, outcome in out.get(timeout=600):
                by_outcome.setdefault(outcome, []).append(seconds)
        for worker in workers:
            worker.join(30)
    return by_outcome


# -- the report -------------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _per_node(values: list[float]) -> str:
    if not values:
        return "-"
    shown = " / ".join(f"{v:.1f}" for v in values)
    return shown if len(values) > 1 else f"{values[0]:.1f}"


def report(setups: list[Setup], claims: dict[int, dict[str, list[float]]]) -> None:
    print("\n### Capacity: runs per minute with lateness p99 under 1 s\n")
    print("| setup | by the run's start (history) | by dispatch (daemon) | load average |")
    print("|---|---:|---:|---|")
    for s in setups:
        loads = f"{s.load_before} -> {s.steps[-1].load}" if s.steps else s.load_before
        print(f"| {s.name} | {s.capacity('start_ok')} | {s.capacity('dispatch_ok')} | {loads} |")
    print("\n### Each step: offered runs/min (tasks)\n")
    print(
        "| setup | runs/min | occurrences | skipped / not started | start p50 / p99 (s) "
        "| dispatch p50 / p99 (ms) | load average |"
    )
    print("|---|---:|---:|---|---|---|---|")
    for s in setups:
        for st in s.steps:
            print(
                f"| {s.name} | {st.rate} ({st.tasks}) | {st.occurrences} | {st.skipped} / "
                f"{st.not_started} | {_s(st.start_s, 0.5)} / {_s(st.start_s, 0.99)} | "
                f"{_ms(st.dispatch_ms, 0.5)} / {_ms(st.dispatch_ms, 0.99)} | {st.load} |"
            )
    print("\n### Database load per node (statements / transactions per second)\n")
    print("| setup | idle | at each step: runs/min -> statements/s (transactions/s), per node |")
    print("|---|---|---|")
    for s in setups:
        if not s.idle_statements_per_s:
            continue
        idle = f"{_per_node(s.idle_statements_per_s)} ({_per_node(s.idle_transactions_per_s)})"
        steps = "; ".join(
            f"{st.rate}: {_per_node(st.statements_per_s)} ({_per_node(st.transactions_per_s)})"
            for st in s.steps
        )
        print(f"| {s.name} | {idle} | {steps} |")
    print("\n### CPU at each step: the daemons (% of one core, per node) and the runs\n")
    print("| setup | runs/min | runs started | daemon CPU % per node | CPU s per run |")
    print("|---|---:|---:|---|---:|")
    for s in setups:
        for st in s.steps:
            print(
                f"| {s.name} | {st.rate} | {st.started} | {_per_node(st.cpu_percent)} "
                f"| {st.cpu_per_run:.2f} |"
            )
    if claims:
        print("\n### Claim latency (`Claims.claim`, one transaction; ms)\n")
        print("| concurrent claimers | claimed: n, p50, p99 | taken: n, p50, p99 |")
        print("|---:|---|---|")
        for n, by in claims.items():
            cells = []
            for outcome in ("claimed", "taken"):
                values = [v * 1000 for v in by.get(outcome, [])]
                cells.append(
                    f"{len(values)}, {pct(values, 0.5):.1f}, {pct(values, 0.99):.1f}"
                    if values
                    else "-"
                )
            others = {k: len(v) for k, v in by.items() if k not in ("claimed", "taken")}
            print(f"| {n} | {cells[0]} | {cells[1]}{f' (also {others})' if others else ''} |")


def _step_json(step: Step) -> dict[str, Any]:
    out = {k: v for k, v in vars(step).items() if k not in ("start_s", "dispatch_ms")}
    for key, values in (("start_s", step.start_s), ("dispatch_ms", step.dispatch_ms)):
        for q in (0.5, 0.99):
            value = pct(values, q) if values else INF
            out[f"{key}_p{round(q * 100)}"] = None if value == INF else value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-single", action="store_true", help="skip the tasks.json baseline")
    parser.add_argument("--rates", type=int, nargs="+", default=[12, 30, 60, 120])
    parser.add_argument("--period", type=int, default=10, help="seconds between a task's runs")
    parser.add_argument("--step-seconds", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--claimers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--claim-rounds", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    dsn = default_dsn()
    print(f"$ {' '.join([Path(PY).name, *sys.argv])}")
    print(f"load average at start: {load()} ({os.cpu_count()} CPUs)", flush=True)
    started = time.monotonic()
    setups: list[Setup] = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_single:
            setups.append(run_setup("single", 1, None, args, Path(tmp)))
            print(f"single: done, load {load()}", flush=True)
        for n in args.nodes:
            with fresh_schema(dsn) as url:
                setups.append(run_setup(f"cluster-{n}", n, url, args, Path(tmp)))
            print(f"cluster-{n}: done, load {load()}", flush=True)
    claims: dict[int, dict[str, list[float]]] = {}
    for n in args.claimers:
        claims[n] = claim_latency(dsn, n, args.claim_rounds)
        print(f"claims with {n} claimer(s): done, load {load()}", flush=True)
    report(setups, claims)
    print(f"\nload average at the end: {load()}; took {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "setups": [
                        {
                            "name": s.name,
                            "capacity_start": s.capacity("start_ok"),
                            "capacity_dispatch": s.capacity("dispatch_ok"),
                            "load_before": s.load_before,
                            "idle_statements_per_s": s.idle_statements_per_s,
                            "idle_transactions_per_s": s.idle_transactions_per_s,
                            "steps": [_step_json(st) for st in s.steps],
                        }
                        for s in setups
                    ],
                    "claims_ms": {
                        n: {k: [round(v * 1000, 2) for v in vs] for k, vs in by.items()}
                        for n, by in claims.items()
                    },
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
