"""The side process (src/services/export/side.py): it dies, is interrupted or aborted,
and the run knows, says so and leaves no file. The files it writes are compared with the
run's own in test_writers.py."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.core.errors import ExportError
from src.core.result import Row
from src.services.export import ExportContext, side
from src.services.export.writers import RunWriters
from src.services.query import QueryService
from tests.services.export.test_writers import EVERY_TYPE_3X

BERLIN = ZoneInfo("Europe/Berlin")
RUN_AT = datetime(2024, 3, 11, 6, 0, tzinfo=UTC)


def batches(service: QueryService) -> Iterator[list[Row] | object]:
    with service.execute(
        "DATABASE_URL", EVERY_TYPE_3X, run_at=RUN_AT, zone=BERLIN, timeout_seconds=60,
        batch_size=4,
    ) as result:  # fmt: skip
        yield result.columns
        yield from result.batches


@pytest.fixture
def streams() -> Iterator[list[Iterator[object]]]:
    """Results left open by a test, closed before the database's teardown (an open COPY
    holds its schema's locks)."""
    opened: list[Iterator[object]] = []
    yield opened
    for stream in opened:
        stream.close()  # type: ignore[attr-defined]


def started(
    service: QueryService, folder: Path, streams: list[Iterator[object]]
) -> tuple[RunWriters, Iterator[object], int]:
    """Writers of xlsx, csv and pdf with the side process running (three batches in), the
    rest of the result, and the side process's id."""
    folder.mkdir()
    stream = batches(service)
    streams.append(stream)
    columns = next(stream)
    files = [(f, folder / f"r.{f}", {}) for f in ("xlsx", "csv", "pdf")]
    context = ExportContext("t", RUN_AT, BERLIN)
    writers = RunWriters(files, columns, context, side=True, side_rows=0)  # type: ignore[arg-type]
    for _ in range(3):
        writers.write_batch(next(stream))  # type: ignore[arg-type]
    assert writers.in_side_process == ["csv", "pdf"] and writers.side_pid is not None
    return writers, stream, writers.side_pid


def finish(writers: RunWriters, stream: Iterator[object]) -> None:
    """The rest of the result written and the files closed, as the runner does (an
    error aborts every writer), a batch every 50 ms."""
    try:
        for batch in stream:
            writers.write_batch(batch)  # type: ignore[arg-type]
            time.sleep(0.05)
        writers.close()
    except BaseException:
        writers.abort()
        raise


def ignores_sigint(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        mask = next(line for line in status if line.startswith("SigIgn:")).split()[1]
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (reaped by the writers or not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


def test_a_side_process_that_dies_fails_the_run_and_leaves_no_file(
    every_type_pg: QueryService,
    tmp_path: Path,
    streams: list[Iterator[object]],
) -> None:
    writers, stream, pid = started(every_type_pg, tmp_path / "out", streams)
    os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
    with pytest.raises(ExportError) as caught:
        finish(writers, stream)
    message = str(caught.value)
    assert "the csv and pdf stopped (exit code -9)" in message and not caught.value.permanent
    assert list((tmp_path / "out").iterdir()) == []  # its temporary files too


def test_ctrl_c_is_the_run_s_to_handle_not_the_side_process_s(
    every_type_pg: QueryService,
    tmp_path: Path,
    streams: list[Iterator[object]],
) -> None:
    # Ctrl-C on `run` signals the whole process group; the run decides (it aborts or
    # finishes), so the side process goes on
    writers, stream, pid = started(every_type_pg, tmp_path / "out", streams)
    deadline = time.monotonic() + 30  # a SIGINT before it is up ends it, as it does the run
    while not ignores_sigint(pid):
        assert time.monotonic() < deadline, "the side process never ignored SIGINT"
        time.sleep(0.02)
    os.kill(pid, signal.SIGINT)
    for batch in stream:
        writers.write_batch(batch)  # type: ignore[arg-type]
    files = writers.close()
    assert [f.rows_total for f in files] == [21, 21, 21]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r.csv", "r.pdf", "r.xlsx"]


def test_abort_ends_the_side_process_and_removes_its_files(
    every_type_pg: QueryService,
    tmp_path: Path,
    streams: list[Iterator[object]],
) -> None:
    writers, _, pid = started(every_type_pg, tmp_path / "out", streams)
    writers.abort()
    writers.abort()  # idempotent
    assert gone(pid)
    assert list((tmp_path / "out").iterdir()) == []


def test_abort_kills_a_side_process_that_no_longer_answers(
    every_type_pg: QueryService,
    tmp_path: Path,
    streams: list[Iterator[object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # stopped (SIGSTOP, a debugger, swapped out): the run's abort does not wait for it
    # past STOP_SECONDS, kills it, and still removes its temporary files
    monkeypatch.setattr(side, "STOP_SECONDS", 1.0)
    writers, _, pid = started(every_type_pg, tmp_path / "out", streams)
    os.kill(pid, signal.SIGSTOP)
    begun = time.monotonic()
    writers.abort()
    assert time.monotonic() - begun < 10
    assert gone(pid)
    assert list((tmp_path / "out").iterdir()) == []


def test_sigterm_ends_the_side_process_without_its_files(
    every_type_pg: QueryService,
    tmp_path: Path,
    streams: list[Iterator[object]],
) -> None:
    # a run past its deadline: its process group gets SIGTERM; the side process removes
    # its own temporary files before it ends (the run's process removes its own)
    writers, stream, pid = started(every_type_pg, tmp_path / "out", streams)
    parts = lambda: sorted(p.name.split(".")[2] for p in (tmp_path / "out").glob(".*.part"))  # noqa: E731
    deadline = time.monotonic() + 30
    while parts() != ["csv", "pdf", "xlsx"]:  # the side process opens its files once up
        assert time.monotonic() < deadline, parts()
        time.sleep(0.02)
    os.kill(pid, signal.SIGTERM)
    while parts() != ["xlsx"]:
        assert time.monotonic() < deadline, parts()
        time.sleep(0.05)
    with pytest.raises(ExportError) as caught:
        finish(writers, stream)
    assert "stopped (exit code 143)" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []
