"""The writers of one run: every batch to each of them, some in a second process.

The run opens one writer per format and feeds each batch to all of them (rows are read
once). When the result passes ``side_rows`` rows (``EXPORT_SECOND_PROCESS_ROWS``, 100,000
by default), writers go to a side process (``side.py``) where that frees the run's own
process for work only it can do:

* COPY text (PostgreSQL): when the run writes the xlsx and other files, every writer but
  the xlsx. The run's process keeps the xlsx, its totals and preview (the xlsx's
  compression runs in a thread of its own already). Without the xlsx, a CSV takes every
  writer to the side process: the text crosses as it came and is split there only (a
  batch is split where its fields are first read), so the run's process only reads
  rows (1,000,000 rows: 4.1 s -> 3.8 s). A PDF alone stays: it reads its first rows only.
* Rows of Python values (SQLite, MariaDB, PostgreSQL's cursor path): nothing moves.
  Rows with Decimals cost as much to pickle as to write. SQLite's plain values would
  gain past ~200,000 rows (at 1,000,000, a CSV 7.5 s -> 5.4 s, an xlsx 14.0 s -> 11.0 s)
  and lose below, but deciding needs the rows held, and held rows of values cost
  ~62 MB per 100,000 of ten columns where COPY text costs ~12 MB.

A result of up to ``side_rows`` rows keeps every writer in the run's process: the side
process costs ~0.3 s of CPU to start and a pass over every row, which a result of 20,000
rows measured as 20-40 % slower. So does a run that may use only one CPU (``taskset``, a
one-core machine), where a second process only adds its own work. Deciding needs the
rows, so when some file could go the batches are held until the result passes
``side_rows``: as their COPY text alone, unsplit, the values the run read from them (its
totals, its preview) let go. Measured in docs/performance.md ("Writers on the second
core", "When the second process pays").
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.core import defaults
from src.core.column_format import Totals
from src.core.result import Column, Row
from src.core.text_batch import TextBatch
from src.core.vocabulary import ExportFormat
from src.services.export import ExportContext, ExportFile, ExportWriter, get_exporter, heap
from src.services.export.side import SideWriters

if TYPE_CHECKING:
    from src.services.export import csv_export

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
        side_rows: int = defaults.SECOND_PROCESS_ROWS,
    ) -> None:
        """``side``: whether a side process may take writers; by default when this process
        may run on more than one CPU (with one, it only adds its own work). ``side_rows``:
        how many rows a result must pass first (its batches are held until then)."""
        self.files = list(files)
        self.columns = list(columns)
        self.context = context
        #: Whether a side process may take writers (False: all in this process)
        self.side_allowed = side if side is not None else len(os.sched_getaffinity(0)) > 1
        self.side_rows = side_rows
        self._local: dict[int, ExportWriter] = {}
        self._side: SideWriters | None = None
        self._side_files: list[int] = []
        self._held: list[Sequence[Row]] = []
        self._held_rows = 0
        self._movable: list[int] = []
        #: Batches written; a CSV alone in the side process: its records made here for
        #: every other batch
        self._shared: csv_export.CsvRecords | None = None
        self._batches = 0
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
        if self._opened:
            self._write(rows)
            return
        if not self._held:  # the first batch says whether any file could go
            self._movable = self._goes_to_side(rows) if self.side_allowed else []
        if not self._movable:
            self._held.append(rows)
            self._open_held(big=False)
            return
        # held as its text alone: fields split and values read so far (the run's totals,
        # its preview) are let go, and split again when written (~12 MB per 100,000 rows)
        assert isinstance(rows, TextBatch) and rows.lines is not None  # _goes_to_side
        self._held.append(TextBatch.from_lines(rows.lines, len(rows), rows.form))
        self._held_rows += len(rows)
        if self._held_rows > self.side_rows:
            self._open_held(big=True)

    def close(self, totals: Totals | None = None) -> list[ExportFile]:
        """Every file, in the order given; ``totals``: the run's, for a side process."""
        if not self._opened:
            self._open_held(big=False)
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

    def _open_held(self, big: bool) -> None:
        """Open the writers (``big``: the result passed ``side_rows``), then write the
        batches held until now."""
        held, self._held = self._held, []
        self._open(held[0] if held else None, big)
        held.reverse()
        while held:  # each let go once written: its fields, split to write it, with it
            self._write(held.pop())

    def _open(self, first: Sequence[Row] | None, big: bool) -> None:
        self._opened = True
        to_side = self._movable if big else []
        try:
            for i, (fmt, path, options) in enumerate(self.files):
                if i not in to_side:
                    writer = get_exporter(fmt).open(path, self.columns, self.context, options)
                    self._local[i] = writer
            if to_side:
                self._side_files = to_side
                assert isinstance(first, TextBatch)  # only COPY text goes: _goes_to_side
                self._side = SideWriters(
                    [self.files[i] for i in to_side], self.columns, self.context, first.form
                )
                if [self.files[i][0] for i in to_side] == [ExportFormat.CSV] and not self._local:
                    # a CSV alone: this process, which only reads rows, makes every other
                    # batch's records itself, by the writer's own rules
                    from src.services.export.csv_export import CsvExporter

                    _, _, options = self.files[to_side[0]]
                    self._shared = CsvExporter().records(self.columns, self.context, options)
        except BaseException:
            self.abort()
            raise

    def _goes_to_side(self, first: Sequence[Row]) -> list[int]:
        """Which files the side process would write, for a result whose first batch is
        ``first``, once it passes ``side_rows`` (see the module docstring)."""
        if not isinstance(first, TextBatch) or first.lines is None:
            return []  # rows of values: see the module docstring
        formats = [fmt for fmt, _, _ in self.files]
        if STAYS in formats:
            return [i for i, fmt in enumerate(formats) if fmt != STAYS]
        return list(range(len(formats))) if ExportFormat.CSV in formats else []

    def _write(self, rows: Sequence[Row]) -> None:
        self._batches += 1
        if self._batches % heap.TRIM_BATCHES == 0:
            heap.trim()
        for writer in self._local.values():
            writer.write_batch(rows)
        if self._side is None:
            return
        assert isinstance(rows, TextBatch)  # every batch of a result is of one kind
        if self._shared is not None and self._batches % 2:
            self._side.write_records(self._shared.text(rows), len(rows))
        else:
            self._side.write_batch(rows)
