"""Cells (src/services/export/xlsx_cells.py): one value, one cell; the rules' edges (the
files are read back in tests/services/export/test_xlsx.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from src.services.export.xlsx_cells import EXCEL_MAX_CELL_CHARS, Cells

CELLS = Cells(ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (999_999_999_999_999, "<c><v>999999999999999</v></c>"),
        (10**15, '<c t="inlineStr"><is><t>1000000000000000</t></is></c>'),
        (-(10**15) + 1, "<c><v>-999999999999999</v></c>"),
        (float("inf"), '<c t="inlineStr"><is><t>inf</t></is></c>'),
        (Decimal("NaN"), '<c t="inlineStr"><is><t>NaN</t></is></c>'),
        (Decimal("1.50"), "<c><v>1.50</v></c>"),
        (True, '<c t="b"><v>1</v></c>'),
        (None, "<c/>"),
        (date(1900, 3, 1), '<c s="2"><v>61</v></c>'),
        (date(1900, 2, 28), '<c t="inlineStr"><is><t>1900-02-28</t></is></c>'),
        (datetime(1900, 3, 1, 12), '<c s="3"><v>61.5</v></c>'),
        ("=1", '<c t="inlineStr" s="5"><is><t>=1</t></is></c>'),
        (" x", '<c t="inlineStr"><is><t xml:space="preserve"> x</t></is></c>'),
        ("a<b&", '<c t="inlineStr"><is><t>a&lt;b&amp;</t></is></c>'),
    ],
)
def test_one_value_one_cell(value: object, cell: str) -> None:
    assert CELLS.cell(value) == cell


def test_long_text_is_cut_and_counted() -> None:
    cells = Cells(ZoneInfo("UTC"))
    cell = cells.cell("x" * (EXCEL_MAX_CELL_CHARS + 1))
    assert cells.cut_cells == 1 and cell.count("x") == EXCEL_MAX_CELL_CHARS - 1
