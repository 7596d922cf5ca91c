"""The exporter interface: a format opens a streaming writer fed batches of rows.

Rows are read once; a run opens one writer per format and feeds every batch to
each of them, so xlsx, pdf and csv come from the same pass over the result.

A writer writes to a temporary name in the target folder and renames it on
``close()``, so a half-written file never carries the final name; ``abort()`` (and
any I/O failure, which aborts by itself) removes the partial file. Disk full
(ENOSPC) and file-size limits (EFBIG) become ``ExportError(permanent=False)``
naming the file and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from zoneinfo import ZoneInfo

from src.core.chart import ChartSpec
from src.core.column_format import ColumnSpec, ReportColumns, Totals
from src.core.errors import ExportError
from src.core.export_options import EXPORT_OPTIONS, check_export_options
from src.core.result import Column, Row
from src.core.vocabulary import ReportLocale

#: Permissions of an exported file: the owner writes, the group (the mailer, a share) reads.
FILE_MODE = 0o640


@dataclass(frozen=True)
class ExportContext:
    """What a file says about its run: the task's name and description, when it ran, and
    in which zone."""

    title: str
    run_at: datetime
    zone: ZoneInfo
    description: str = ""
    #: The task's ``columns``: labels, formats, hidden columns, totals (by column name)
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    #: The task's locale (None: the default, en): how the PDF's values read
    locale: ReportLocale | None = None
    #: The task's chart (None: no chart)
    chart: ChartSpec | None = None
    #: The result's totals when whoever feeds the writers counts them, once for all the
    #: files (the run); None: each writer counts its own
    totals: Totals | None = None

    def layout(self, columns: Sequence[Column]) -> ReportColumns:
        """The task's columns and locale applied to a result of these ``columns`` (with
        :attr:`totals`, counted elsewhere, when set)."""
        return ReportColumns(columns, self.columns, self.locale, self.totals)

    def __post_init__(self) -> None:
        if self.run_at.tzinfo is None:
            raise ValueError(f"run_at must be aware, got naive {self.run_at!r}")

    @property
    def local_run_at(self) -> datetime:
        return self.run_at.astimezone(self.zone)


@dataclass(frozen=True)
class ExportFile:
    """A finished file. ``rows_total`` counts every row received, ``rows_written`` those
    in the file (fewer when a PDF is capped); ``notes`` are sentences for the run record
    and the email (a PDF cut, extra sheets, cells shortened)."""

    format: str
    path: Path
    size_bytes: int
    rows_written: int
    rows_total: int
    notes: list[str] = field(default_factory=list)


class ExportWriter(Protocol):
    """A streaming sink for one file."""

    def write_batch(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> ExportFile: ...

    def abort(self) -> None: ...


class Exporter(ABC):
    """One format. Implementations live in sibling modules, registered in ``EXPORTERS``."""

    #: The name used in tasks.json (``"xlsx"``).
    name: str
    #: File extension without the dot.
    extension: str

    @property
    def options_help(self) -> dict[str, str]:
        """Option name -> its one-line help, from ``src/core/export_options.py``."""
        return {name: option.help for name, option in EXPORT_OPTIONS[self.name].items()}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked (the same checks as saving a task), with defaults filled.

        Raises ValidationError naming the option (``exports.csv.delimiter``), the value
        and what is accepted; an unknown option is refused with the known ones.
        """
        return check_export_options(self.name, options)

    @abstractmethod
    def open(
        self,
        path: Path,
        columns: Sequence[Column],
        context: ExportContext,
        options: Mapping[str, Any] | None = None,
    ) -> ExportWriter:
        """Start writing ``path`` (its final name; written under a temporary name first)."""


# --------------------------------------------------------------------------- files


def io_error(path: Path, exc: OSError, doing: str = "writing") -> ExportError:
    """An OSError while writing ``path`` as a transient ExportError that says why."""
    if exc.errno == errno.ENOSPC:
        cause = "the disk is full (ENOSPC); free space in the exports folder and run again"
    elif exc.errno == errno.EFBIG:
        cause = (
            "the file grew past the size limit for this process (EFBIG, e.g. ulimit -f); "
            "raise the limit or narrow the query"
        )
    elif exc.errno == errno.EDQUOT:
        cause = "the disk quota is exhausted (EDQUOT); free space or raise the quota"
    else:
        cause = exc.strerror or str(exc)
    return ExportError(f"{doing} {path} failed: {cause}", permanent=False)


class AtomicFile:
    """A file written under ``.<name>.<random>.part`` next to ``path``, renamed on commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        self._file: IO[bytes] | None = None
        try:
            fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except OSError as exc:
            raise io_error(path, exc, "creating") from exc
        os.fchmod(fd, FILE_MODE)  # the umask must not widen or narrow it
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)

    @property
    def file(self) -> IO[bytes]:
        if self._file is None:
            raise ExportError(f"{self.path}: writer already closed", permanent=True)
        return self._file

    def commit(self) -> int:
        """Flush, fsync, rename to the final name; returns the size in bytes."""
        f = self.file
        try:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            self._file = None
            os.replace(self.tmp_path, self.path)
            return self.path.stat().st_size
        except OSError as exc:
            self.discard()
            raise io_error(self.path, exc) from exc

    def discard(self) -> None:
        """Close (ignoring errors: the file is going) and remove the temporary file."""
        if self._file is not None:
            with contextlib.suppress(OSError):  # a failed flush of a file we delete anyway
                self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_path)
