"""The writers of one run: every batch to each of them, some in a second process.

The run opens one writer per format and feeds each batch to all of them (rows are read
once). When a run writes the xlsx and other files, and its result comes as COPY text and
fills more than one batch, the writers other than the xlsx run in a side process
(``side.py``): they use the second core instead of waiting for the xlsx's turn on the
first. The xlsx stays in the run's process, with the run's totals and preview (its
compression already runs in a thread of its own). Everything else keeps every writer in
the run's process: a smaller result (the side process costs ~0.3 s of CPU to start),
rows that are not COPY text (another database, the cursor path: pickling such rows costs
what writing them does), and a run without the xlsx (a CSV alone measured slower with a
side process than without: every batch is split twice). Deciding needs the second
batch, so the first is held until then (one batch of memory).

Measured in docs/performance.md ("Writers on the second core").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from src.core.column_format import Totals
from src.core.result import Column, Row
from src.core.text_batch import TextBatch
from src.core.vocabulary import ExportFormat
from src.services.export import ExportContext, ExportFile, ExportWriter, get_exporter
from src.services.export.side import SideWriters

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
        side: bool = True,
    ) -> None:
        self.files = list(files)
        self.columns = list(columns)
        self.context = context
        #: Whether a side process may take writers (False: all in this process)
        self.side_allowed = side
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
                assert isinstance(first, TextBatch)
                self._side_files = to_side
                self._side = SideWriters(
                    [self.files[i] for i in to_side], self.columns, self.context, first.form
                )
        except BaseException:
            self.abort()
            raise

    def _goes_to_side(self, first: Sequence[Row] | None, second: Sequence[Row] | None) -> list[int]:
        if not (self.side_allowed and second is not None and len(second) > 0):
            return []
        if not (isinstance(first, TextBatch) and first.lines is not None):
            return []
        if STAYS not in [fmt for fmt, _, _ in self.files]:
            return []
        return [i for i, (fmt, _, _) in enumerate(self.files) if fmt != STAYS]

    def _write(self, rows: Sequence[Row]) -> None:
        for writer in self._local.values():
            writer.write_batch(rows)
        if self._side is not None:
            self._side.write_batch(rows)
