"""A task's chart, highlights and locale in the xlsx (src/services/export/xlsx_chart.py,
src/services/export/xlsx.py): a native chart on a sheet of its own, conditional formats,
locale-tagged number formats; read back by openpyxl and rendered by LibreOffice."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, LineChart, PieChart
from PIL import Image

from tests.fixtures.report_samples import BAR, context, export
from tests.servers import require

CHART_PARTS = {
    "xl/charts/chart1.xml",
    "xl/drawings/drawing1.xml",
    "xl/chartsheets/sheet1.xml",
    "xl/chartsheets/_rels/sheet1.xml.rels",
    "xl/drawings/_rels/drawing1.xml.rels",
}


@pytest.mark.parametrize(
    ("kind", "y", "cls"),
    [("bar", ["revenue", "units"], BarChart), ("line", ["revenue"], LineChart),
     ("pie", ["units"], PieChart)],
)  # fmt: skip
def test_a_native_chart_on_its_own_sheet_over_the_data_cells(
    tmp_path: Path, kind: str, y: list[str], cls: type
) -> None:
    path = tmp_path / "r.xlsx"
    ctx = context({"type": kind, "x": "region", "y": y, "title": "By region"})
    export("xlsx", path, ctx=ctx)
    assert set(zipfile.ZipFile(path).namelist()) >= CHART_PARTS
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Regional sales", "Chart"]
    assert workbook.active is not None and workbook.active.title == "Regional sales"
    [chart] = workbook.chartsheets[0]._charts
    assert isinstance(chart, cls)
    assert len(chart.series) == len(y)
    # the hidden id is not in the sheet: region is A, units B, revenue C
    letters = {"units": "B", "revenue": "C"}
    refs = [s.val.numRef.f for s in chart.series]
    assert refs == [f"'Regional sales'!${letters[c]}$2:${letters[c]}$5" for c in y]
    assert chart.series[0].cat.strRef.f == "'Regional sales'!$A$2:$A$5"
    title = "".join(r.t for p in chart.title.tx.rich.p for r in p.r)
    assert title == "By region"


def test_no_chart_sheet_for_a_chart_that_cannot_be_drawn(tmp_path: Path) -> None:
    rows = [[i, f"r{i}", i, float(i)] for i in range(51)]
    exported = export("xlsx", tmp_path / "r.xlsx", rows)
    names = zipfile.ZipFile(tmp_path / "r.xlsx").namelist()
    assert not CHART_PARTS & set(names)
    assert openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames == ["Regional sales"]
    assert exported.notes == []  # the run says it once, for every file (test_runner)
    export("xlsx", tmp_path / "ok.xlsx", rows[:50])
    assert set(zipfile.ZipFile(tmp_path / "ok.xlsx").namelist()) >= CHART_PARTS


def test_highlights_are_sheet_level_conditional_formats(tmp_path: Path) -> None:
    export("xlsx", tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx").worksheets[0]
    found = {
        str(cf.sqref): [(r.type, r.formula, r.dxf.font, r.dxf.fill) for r in cf.rules]
        for cf in sheet.conditional_formatting
    }
    assert set(found) == {"B2:B5", "C2:C5"}
    [(kind, formula, font, fill)] = found["B2:B5"]
    assert (kind, formula) == ("expression", ["AND(ISNUMBER(B2),B2>10)"])
    assert fill.bgColor.rgb == "FFFFF2CC" and font is None
    negative, strong = found["C2:C5"]
    assert negative[1] == ["AND(ISNUMBER(C2),C2<0)"] and negative[2].color.rgb == "FFC00000"
    assert strong[1] == ["AND(ISNUMBER(C2),C2>=1000)"] and strong[2].b
    # nothing per cell: the cells keep their number format's style only
    assert sheet["C2"].font.b is False and sheet["C2"].number_format == '"€"#,##0.00'


def test_no_highlight_no_dxfs(tmp_path: Path) -> None:
    ctx = context(chart=None)
    plain = ctx.__class__(ctx.title, ctx.run_at, ctx.zone, ctx.description, {}, None, None)
    export("xlsx", tmp_path / "r.xlsx", ctx=plain)
    styles = zipfile.ZipFile(tmp_path / "r.xlsx").read("xl/styles.xml").decode()
    assert (
        "<dxfs" not in styles
        and "<conditionalFormatting"
        not in zipfile.ZipFile(tmp_path / "r.xlsx").read("xl/worksheets/sheet1.xml").decode()
    )


def test_locale_number_formats_stay_numbers(tmp_path: Path) -> None:
    export("xlsx", tmp_path / "r.xlsx", ctx=context(locale="de"))
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx").worksheets[0]
    assert (sheet["C2"].value, sheet["C2"].number_format) == (1234.5, '[$-407]#,##0.00 "€"')
    assert sheet["B2"].number_format == "[$-407]#,##0"


def _libreoffice_pdf(tmp_path: Path, xlsx: Path) -> Path:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    require(office, "LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    require(shutil.which("pdftotext"), "pdftotext is not installed (apt-get install poppler-utils)")
    assert office is not None
    subprocess.run(
        [
            office, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless",
            "--convert-to", "pdf", "--outdir", str(tmp_path / "out"), str(xlsx),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return tmp_path / "out" / f"{xlsx.stem}.pdf"


def _pdftotext(pdf: Path, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip


def test_libreoffice_renders_the_chart_sheet_and_the_german_formats(tmp_path: Path) -> None:
    xlsx = tmp_path / "report.xlsx"
    export("xlsx", xlsx, ctx=context(BAR, locale="de"))
    pdf = _libreoffice_pdf(tmp_path, xlsx)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M)
    assert pages and pages.group(1) == "2"  # the data sheet, then the chart sheet
    data = _pdftotext(pdf, 1)
    assert "1.234,50 €" in data and "3.984,65 €" in data  # German separators, € after
    chart = _pdftotext(pdf, 2)
    assert "Revenue by region" in chart  # the chart's title, drawn
    assert "North" in chart and "West" in chart  # its categories
    assert "2.500" in chart or "2.000" in chart  # its value axis, in the sheet's locale
    # the page is not blank where the bars are: pdftoppm's pixels say so
    require(shutil.which("pdftoppm"), "pdftoppm is not installed (apt-get install poppler-utils)")
    subprocess.run(
        ["pdftoppm", "-f", "2", "-l", "2", "-r", "30", "-png", str(pdf), str(tmp_path / "p")],
        check=True, timeout=60,
    )  # fmt: skip
    [png] = tmp_path.glob("p*.png")
    colors = Image.open(png).convert("RGB").getcolors(1 << 20) or []
    blue = sum(n for n, (r, g, b) in colors if b > 150 and r < 60)  # PALETTE[0], 0072B2
    assert blue > 50, "no bar drawn on the chart page"


def test_openpyxl_is_imported_only_to_draw_a_chart() -> None:
    # A run imports the exporters; openpyxl (and numpy, which it imports where installed)
    # added ~20 MB to every run's peak memory when the chart module imported it at the top
    code = (
        "import sys\n"
        "import src.services.export, src.services.query, src.services.runner\n"
        "print(sorted(m for m in ('openpyxl', 'numpy') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
