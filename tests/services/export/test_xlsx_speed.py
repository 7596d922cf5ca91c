"""The xlsx writer's fast path for formatted columns (src/services/export/xlsx.py): its
per-column converters write exactly the bytes the general rule writes, for every kind of
value a formatted column can meet."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from src.core.column_format import read_columns
from src.core.result import Column
from src.services.export import ExportContext
from src.services.export.xlsx import XlsxExporter, XlsxWriter

SPECS, _ = read_columns(
    {
        "d": {"format": "date", "pattern": "dd.mm.yyyy"},
        "t": {"format": "datetime"},
        "n": {"format": "number", "total": "sum"},
        "c": {"format": "currency", "currency": "EUR"},
        "b": {"format": "boolean", "words": ["yes", "no"]},
    }
)
CONTEXT = ExportContext("T", datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("Europe/Berlin"), "", SPECS)
VALUES = [
    None, "", "text", "=1+1", True, False, 0, 1, -7, 10**15, -(10**16), 1.5, -0.0,
    float("nan"), float("inf"), Decimal("1.25"), Decimal("NaN"), date(1899, 12, 31),
    date(2026, 3, 1), datetime(1800, 1, 1), datetime(2026, 3, 1, 9, 30),
    datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=2))), b"\x00\x01", [1, "a"],
]  # fmt: skip


def sheet(path: Path, general_rule_only: bool) -> bytes:
    writer = XlsxExporter().open(path, [Column(c) for c in "dtncb"], CONTEXT, {})
    assert isinstance(writer, XlsxWriter)
    if general_rule_only:
        writer._column_cells = [{} for _ in writer._column_cells]
    writer.write_batch([[v] * 5 for v in VALUES])
    writer.close()
    return zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")


def test_the_fast_path_writes_what_the_general_rule_writes(tmp_path: Path) -> None:
    fast = sheet(tmp_path / "fast.xlsx", general_rule_only=False)
    general = sheet(tmp_path / "general.xlsx", general_rule_only=True)
    assert fast == general
    assert re.search(rb'<c s="\d+"><v>1\.5</v></c>', fast)  # a number, with its format
