"""The PDF with a chart, highlights and a locale (src/services/export/pdf.py): the chart
on the first page above the table, highlighted cells red / bold / filled, values in the
task's locale; read back with pypdf, pdftotext and pdftoppm."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from tests.fixtures.report_samples import BAR, context, export
from tests.servers import require


def positions(path: Path, page: int = 0) -> dict[str, tuple[float, float, str]]:
    """Each text drawn on a page: its x, y and font."""
    found: dict[str, tuple[float, float, str]] = {}

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            name = str(font.get("/BaseFont", "")) if font else ""
            found[text.strip()] = (tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5], name)

    PdfReader(path).pages[page].extract_text(visitor_text=visit)
    return found


def drawn_in(path: Path) -> dict[str, tuple[tuple[float, ...], str]]:
    """Each text of the first page with the fill colour and font it is drawn in."""
    color: list[tuple[float, ...]] = [(0.0,)]
    out: dict[str, tuple[tuple[float, ...], str]] = {}

    def before(op: bytes, args: Any, cm: Any, tm: Any) -> None:
        if op == b"q":
            color.append(color[-1])
        elif op == b"Q" and len(color) > 1:
            color.pop()
        elif op in (b"rg", b"g"):
            color[-1] = tuple(round(float(x), 5) for x in args)

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            out[text.strip()] = (color[-1], str(font.get("/BaseFont", "")) if font else "")

    PdfReader(path).pages[0].extract_text(visitor_operand_before=before, visitor_text=visit)
    return out


def test_the_chart_is_on_the_first_page_above_the_table(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    export("pdf", path)
    text = PdfReader(path).pages[0].extract_text()
    assert "Revenue by region" in text and "€2,000" in text  # title and value axis
    assert text.index("Revenue by region") < text.index("Region\n")  # drawn before the table
    require(shutil.which("pdftoppm"), "pdftoppm is not installed (apt-get install poppler-utils)")
    dpi = 40
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", str(dpi), "-png", str(path), str(tmp_path / "p")],
        check=True, timeout=60,
    )  # fmt: skip
    [png] = tmp_path.glob("p*.png")
    image = Image.open(png).convert("RGB")
    header = round((image.height / dpi * 72 - positions(path)["Region"][1]) * dpi / 72)

    def blue(box: tuple[int, int, int, int]) -> int:
        colors = image.crop(box).getcolors(1 << 20) or []
        return sum(n for n, (r, g, b) in colors if b > 150 and r < 60)  # PALETTE[0], 0072B2

    assert blue((0, 0, image.width, header)) > 100, "no bars drawn above the table"
    assert blue((0, header, image.width, image.height)) == 0


def test_a_chart_past_50_rows_is_not_drawn_nor_given_room(tmp_path: Path) -> None:
    rows = [[i, f"r{i}", i, float(i)] for i in range(60)]
    path = tmp_path / "r.pdf"
    exported = export("pdf", path, rows, batch=5000)  # a run's first batch has them all
    text = PdfReader(path).pages[0].extract_text()
    assert "Revenue by region" not in text
    assert exported.notes == []  # the run says why, once (tests/cli/test_cli_report.py)
    assert positions(path)["Region"][1] > 700  # the table starts near the top


def test_rows_past_50_after_the_first_batch_leave_a_sentence_where_the_chart_was(
    tmp_path: Path,
) -> None:
    rows = [[i, f"r{i}", i, float(i)] for i in range(60)]
    path = tmp_path / "r.pdf"
    export("pdf", path, rows, batch=10)
    text = PdfReader(path).pages[0].extract_text()
    assert "The chart was not drawn: the result has 60 rows and a chart shows at most 50" in (
        " ".join(text.split())
    )


def test_highlighted_cells_are_red_bold_and_filled(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    export("pdf", path, ctx=context(chart=None))
    drawn = drawn_in(path)
    assert drawn["-€20.25"] == ((0.75294, 0.0, 0.0), drawn["-€20.25"][1])  # C00000
    assert "Bold" not in drawn["-€20.25"][1]
    assert drawn["€560.00"][0] in ((0.0,), (0.0, 0.0, 0.0)) and "Bold" not in drawn["€560.00"][1]
    assert "Bold" in drawn["€1,234.50"][1]
    # the fill: a rectangle in FFF2CC behind 12 and 11 units, and nowhere else
    reader = PdfReader(path)
    stream = ContentStream(reader.pages[0].get_contents(), reader)
    fills = [[round(float(x), 5) for x in ops] for ops, op in stream.operations if op == b"rg"]
    assert fills.count([1.0, 0.94902, 0.8]) == 2


def test_the_locale_reads_in_the_pdf(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    export("pdf", path, ctx=context(BAR, locale="fr"))
    text = PdfReader(path).pages[0].extract_text()
    text = text.replace("\xa0", " ")  # pypdf reads the no-break space as a space
    assert "1\u202f234,50 €" in text and "-20,25 €" in text  # U+202F between thousands
    assert "3\u202f984,65 €" in text  # the total
