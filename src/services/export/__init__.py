"""Exporters: one streaming writer per format, looked up by the name used in tasks.json.

>>> writer = get_exporter("xlsx").open(path, columns, context, {"sheet_name": "Orders"})
>>> for batch in result.batches: writer.write_batch(batch)    # or writer.abort() on error
>>> exported = writer.close()                                 # ExportFile(path, size, ...)
"""

from __future__ import annotations

from src.core.errors import ValidationError
from src.services.export.base import (
    ExportContext,
    Exporter,
    ExportFile,
    ExportWriter,
)
from src.services.export.csv_export import CsvExporter
from src.services.export.pdf import PdfExporter
from src.services.export.xlsx import XlsxExporter

#: Format name (as in tasks.json) -> exporter.
EXPORTERS: dict[str, Exporter] = {
    "xlsx": XlsxExporter(),
    "pdf": PdfExporter(),
    "csv": CsvExporter(),
}


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
