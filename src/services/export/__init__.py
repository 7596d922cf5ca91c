"""Exporters: one streaming writer per format, looked up by the name used in tasks.json.

>>> writer = get_exporter("xlsx").open(path, columns, context, {"sheet_name": "Orders"})
>>> for batch in result.batches: writer.write_batch(batch)    # or writer.abort() on error
>>> exported = writer.close()                                 # ExportFile(path, size, ...)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from src.core.errors import ValidationError
from src.services.export.base import (
    ExportContext,
    Exporter,
    ExportFile,
    ExportWriter,
)

#: Format name (as in tasks.json) -> the module and class of its exporter. A format's
#: module is imported when the format is first asked for: a CSV-only run (and the CLI)
#: never loads reportlab and the xlsx writer, about 0.3 s of a run's start
#: (docs/performance.md, "Start-up of a run").
_EXPORTER_CLASSES = {
    "xlsx": ("src.services.export.xlsx", "XlsxExporter"),
    "pdf": ("src.services.export.pdf", "PdfExporter"),
    "csv": ("src.services.export.csv_export", "CsvExporter"),
}


class _Exporters(Mapping[str, Exporter]):
    """The registry: every format's name, its exporter made on first use."""

    def __init__(self) -> None:
        self._made: dict[str, Exporter] = {}

    def __getitem__(self, name: str) -> Exporter:
        exporter = self._made.get(name)
        if exporter is None:
            module, cls = _EXPORTER_CLASSES[name]
            exporter = self._made[name] = getattr(importlib.import_module(module), cls)()
        return exporter

    def __iter__(self) -> Iterator[str]:
        return iter(_EXPORTER_CLASSES)

    def __len__(self) -> int:
        return len(_EXPORTER_CLASSES)


#: Format name (as in tasks.json) -> exporter.
EXPORTERS: Mapping[str, Exporter] = _Exporters()


def get_exporter(name: str) -> Exporter:
    """The exporter for ``name``; an unknown name is a ValidationError listing the known ones."""
    try:
        return EXPORTERS[name]
    except (KeyError, TypeError):
        raise ValidationError(
            "format", f"unknown export format {name!r}; known: {', '.join(EXPORTERS)}"
        ) from None


__all__ = [
    "EXPORTERS",
    "ExportContext",
    "ExportFile",
    "ExportWriter",
    "Exporter",
    "get_exporter",
]
