"""The writers of one run: every batch to each of them, some in a second process.

The run opens one writer per format and feeds each batch to all of them (rows are read
once). When the result fills more than one batch, writers go to a side process
(``side.py``) where that frees the run's own process for work only it can do:

* COPY text (PostgreSQL): when the run writes the xlsx and other files, every writer but
  the xlsx. The run's process keeps the xlsx, its totals and preview (the xlsx's
  compression runs in a thread of its own already). Without the xlsx, a CSV takes every
  writer to the side process: the text crosses as it came and is split there only (a
  batch is split where its fields are first read), so the run's process only reads
  rows (1,000,000 rows: 4.1 s -> 3.8 s). A PDF alone stays: it reads its first rows only.
* Rows of values cheap to pickle (SQLite's ints, floats, text and dates): every writer
  but the xlsx, or the xlsx when it is the only one, so the files are written while the
  run's process reads the next rows through the driver (at 1,000,000 rows from SQLite, a
  CSV 6.7 s -> 4.7 s, an xlsx 11.4 s -> 9.5 s).
* Rows with Decimals (PostgreSQL's cursor path, MariaDB): nothing moves; pickling them
  costs what writing them does.

A result of one batch keeps every writer in the run's process (the side process costs
~0.3 s of CPU to start), and so does a run that may use only one CPU (``taskset``, a
one-core machine), where a second process only adds its own work. Deciding needs the
second batch, so the first is held until then (one batch of memory). Measured in
docs/performance.md ("Writers on the second core").
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from src.core.column_format import Totals
from src.core.result import Column, Row
from src.core.text_batch import TextBatch
from src.core.vocabulary import ExportFormat
from src.services.export import ExportContext, ExportFile, ExportWriter, get_exporter
from src.services.export.side import SideWriters

#: Value types that pickle at C speed: rows of only these may cross to a side process.
_CHEAP = frozenset({int, float, str, bytes, bool, type(None), date, datetime, time})
#: The format that stays in the run's process when the others go to the side one: the
#: heaviest per row, with a thread of its own already (its compression).
STAYS = ExportFormat.XLSX


class RunWriters:
    """One writer per ``(format, path, options)``, opened at the first batch (or at the
    close of an empty result), their files in that order."""

    def __init__(
        self,
        files: Sequence[tuple[str, Path, Mapping[str, Any]]],
        columns: Sequence[Column],
        context: ExportContext,
        side: bool | None = None,
    ) -> None:
        """``side``: whether a side process may take writers; by default when this process
        may run on more than one CPU (with one, it only adds its own work)."""
        self.files = list(files)
        self.columns = list(columns)
        self.context = context
        #: Whether a side process may take writers (False: all in this process)
        self.side_allowed = side if side is not None else len(os.sched_getaffinity(0)) > 1
        self._local: dict[int, ExportWriter] = {}
        self._side: SideWriters | None = None
        self._side_files: list[int] = []
        self._held: Sequence[Row] | None = None
        self._opened = False

    @property
    def in_side_process(self) -> list[str]:
        """The formats written by the side process (empty: none)."""
        return [self.files[i][0] for i in self._side_files]

    @property
    def side_pid(self) -> int | None:
        """The side process's id while it runs (None: no side process)."""
        return self._side.pid if self._side is not None else None

    def write_batch(self, rows: Sequence[Row]) -> None:
        if not self._opened:
            if self._held is None:
                self._held = rows
                return
            held, self._held = self._held, None
            self._open(held, rows)
            self._write(held)
        self._write(rows)

    def close(self, totals: Totals | None = None) -> list[ExportFile]:
        """Every file, in the order given; ``totals``: the run's, for a side process."""
        if not self._opened:
            held, self._held = self._held, None
            self._open(held, None)
            if held is not None:
                self._write(held)
        side = self._side.close(totals) if self._side is not None else []
        done = dict(zip(self._side_files, side, strict=True))
        for i, writer in self._local.items():
            done[i] = writer.close()
        return [done[i] for i in range(len(self.files))]

    def abort(self) -> None:
        for writer in self._local.values():
            writer.abort()
        if self._side is not None:
            self._side.abort()

    def _open(self, first: Sequence[Row] | None, second: Sequence[Row] | None) -> None:
        self._opened = True
        to_side = self._goes_to_side(first, second)
        try:
            for i, (fmt, path, options) in enumerate(self.files):
                if i not in to_side:
                    writer = get_exporter(fmt).open(path, self.columns, self.context, options)
                    self._local[i] = writer
            if to_side:
                self._side_files = to_side
                form = first.form if isinstance(first, TextBatch) else None
                self._side = SideWriters(
                    [self.files[i] for i in to_side], self.columns, self.context, form
                )
        except BaseException:
            self.abort()
            raise

    def _goes_to_side(self, first: Sequence[Row] | None, second: Sequence[Row] | None) -> list[int]:
        """Which files the side process writes (see the module docstring)."""
        if not (self.side_allowed and second is not None and len(second) > 0):
            return []
        formats = [fmt for fmt, _, _ in self.files]
        movable = [i for i, fmt in enumerate(formats) if fmt != STAYS]
        if isinstance(first, TextBatch) and first.lines is not None:
            if STAYS in formats:
                return movable
            return list(range(len(formats))) if ExportFormat.CSV in formats else []
        if first is None or isinstance(first, TextBatch) or not _cheap_to_pickle(first):
            return []
        return movable or list(range(len(formats)))  # the xlsx alone: it goes

    def _write(self, rows: Sequence[Row]) -> None:
        for writer in self._local.values():
            writer.write_batch(rows)
        if self._side is not None:
            self._side.write_batch(rows)


def _cheap_to_pickle(rows: Sequence[Row]) -> bool:
    """Whether a batch holds only values that pickle at C speed (a Decimal does not:
    pickling PostgreSQL's cursor rows costs what writing them does)."""
    return {type(value) for row in rows for value in row} <= _CHEAP
