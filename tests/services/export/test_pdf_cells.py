"""The PDF's cells (src/services/export/pdf_cells.py) against reportlab's plain
``drawString`` / ``drawRightString``: the same file byte for byte, the same text where
pdftotext and pypdf read it, the same pixels where pdftoppm renders it.

The reference is the drawing the painter replaced, kept here: one ``drawString`` (or
``drawRightString`` for a number) per cell after ``fit``. Both write the same result with
reportlab's invariant mode on (no time stamp, a fixed file id), so any difference is
the drawing's. The result has what can go wrong: values that repeat and values that
do not, right-aligned numbers, highlighted cells (red, bold, filled), the totals row,
cells cut with an ellipsis, PDF string escapes, Cyrillic and Greek, more than 256
distinct characters (a TrueType subset holds 256: the later ones go to the next
subset, some cells mix both), page breaks.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from reportlab import rl_config
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from src.core.column_format import read_columns
from src.core.result import Column
from src.services.export import ExportContext, get_exporter
from src.services.export import pdf as pdf_module
from src.services.export.pdf_cells import CellPainter, fit
from src.services.export.pdf_fonts import FONT_FILES, Fonts
from tests.servers import require

SPECS, _ = read_columns(
    {
        "amount": {
            "format": "currency", "currency": "EUR", "total": "sum",
            "highlight": [{"when": "< 0", "style": "negative"}, {"when": "< -50", "style": "fill"},
                          {"when": "> 800", "style": "strong"}],
        },
    }
)  # fmt: skip
CONTEXT = ExportContext(
    "Cells (a) \\ check", datetime(2026, 3, 2, 6, tzinfo=UTC), ZoneInfo("Europe/Berlin"),
    columns=SPECS,
)  # fmt: skip
COLUMNS = ["id", "status", "amount", "word", "note", "ratio", "day"]
#: 330 characters DejaVu Sans draws past ASCII: Latin-1, Latin Extended-A, Greek, Cyrillic
POOL = "".join(
    chr(c)
    for lo, hi in ((0xC0, 0x100), (0x100, 0x180), (0x391, 0x3A2), (0x3A3, 0x3CA), (0x410, 0x450))
    for c in range(lo, hi)
)


def rows(n: int) -> list[list[Any]]:
    out = []
    for k in range(n):
        start = (k * 7) % len(POOL)
        word = (POOL + POOL)[start : start + 9]  # wraps: late and early characters in one cell
        out.append([
            k,
            ("paid", "open", "Оплачено", "(pending)")[k % 4],  # repeated values
            Decimal(k * 37 % 1000 - 100) + Decimal("0.25"),  # some negative, some > 900
            word,
            "long note with a \\ backslash " * (12 if k % 5 == 0 else 1),  # cut with "…"
            None if k % 6 == 0 else k / 7,
            date(2024, 1, 1 + k % 28),
        ])  # fmt: skip
    out[3][3] = "Grüße Ωμέγα Привет"
    return out


def plain_cells(canvas: Canvas, x: Sequence[float], widths: Sequence[float],
                right: Sequence[bool], pad: float) -> Any:  # fmt: skip
    """The cells as they were drawn before the painter: fit, then drawString per cell."""

    class Plain:
        def draw(self, y: float, cells: Sequence[str]) -> None:
            font, size = canvas._fontname, canvas._fontsize
            for i, text in enumerate(cells):
                text = fit(text, font, size, widths[i] - 2 * pad) if text else ""
                if not text:
                    continue
                if right[i]:
                    canvas.drawRightString(x[i] + widths[i] - pad, y, text)
                else:
                    canvas.drawString(x[i] + pad, y, text)

    return Plain()


def write(path: Path, data: list[list[Any]]) -> None:
    writer = get_exporter("pdf").open(path, [Column(c) for c in COLUMNS], CONTEXT)
    for start in range(0, len(data), 40):
        writer.write_batch(data[start : start + 40])
    writer.close()


@pytest.fixture(params=["DejaVuSans", "Helvetica"])
def both(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The same result written by the painter and by plain drawString: (new, reference)."""
    if request.param == "DejaVuSans":
        require(all(f.exists() for f in FONT_FILES.values()), "DejaVu fonts missing "
                "(apt-get install fonts-dejavu-core); PDFs fall back to Helvetica")  # fmt: skip
        assert pdf_module.fonts().regular == "DejaVuSans"
    else:  # the fallback when DejaVu is missing: reportlab's Type 1 fonts
        monkeypatch.setattr(pdf_module, "fonts", lambda: Fonts("Helvetica", "Helvetica-Bold"))
    monkeypatch.setattr(rl_config, "invariant", 1)
    data = rows(130)
    new, reference = tmp_path / "new.pdf", tmp_path / "reference.pdf"
    write(new, data)
    with monkeypatch.context() as patch:
        patch.setattr(pdf_module, "CellPainter", plain_cells)
        write(reference, data)
    return request.param, new, reference


def test_the_file_is_the_one_drawstring_writes(both: Any) -> None:
    font, new, reference = both
    pages = PdfReader(new).pages
    assert len(pages) >= 3  # page breaks are part of the comparison
    if font == "DejaVuSans":  # the second subset is in use, from the cells
        fonts = {str(f["/BaseFont"]) for p in pages for f in p["/Resources"]["/Font"].values()}
        assert "/AAAAAB+DejaVuSans" in fonts, fonts  # the regular font's subset 1
    assert new.read_bytes() == reference.read_bytes()


def test_pypdf_reads_the_same_text(both: Any) -> None:
    font, new, reference = both
    texts = [p.extract_text() for p in PdfReader(new).pages]
    assert texts == [p.extract_text() for p in PdfReader(reference).pages]
    everything = "\n".join(texts)
    assert "…" in everything and "(pending)" in everything and "\\ backslash" in everything
    if font == "DejaVuSans":
        assert "Grüße Ωμέγα Привет" in everything and "Оплачено" in everything
        # more distinct characters read back than one subset holds
        assert len(set(POOL) & set(everything)) > 256


def test_pdftotext_lays_out_the_same_text(both: Any) -> None:
    require(shutil.which("pdftotext"), "pdftotext is not installed (apt-get install poppler-utils)")
    font, new, reference = both

    def layout(path: Path) -> str:
        run = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                             text=True, check=True, timeout=60)  # fmt: skip
        return run.stdout

    text = layout(new)
    assert text == layout(reference)
    lines = text.splitlines()
    assert sum(1 for line in lines if line.split()[:1] == ["id"]) >= 3  # a header per page
    row = next(line for line in lines if line.split()[:2] == ["3", "(pending)"])
    assert "€11.25" in row and "2024-01-04" in row
    if font == "DejaVuSans":
        assert "Grüße Ωμέγα Привет" in row


def test_numbers_end_on_their_header_s_right_edge(both: Any) -> None:
    """Where pypdf finds each string: amounts (regular, red, bold) end where ``amount``
    ends; texts start where their header starts."""
    _, new, _ = both
    drawn: list[tuple[str, float, str]] = []

    def visit(text: str, cm: Any, tm: Any, pdf_font: Any, size: float) -> None:
        if text.strip():
            drawn.append((text.strip(), tm[4] * cm[0] + cm[4], str(pdf_font["/BaseFont"])))

    PdfReader(new).pages[0].extract_text(visitor_text=visit)
    names = {"Regular": pdf_module.fonts().regular, "Bold": pdf_module.fonts().bold}

    def right_edge(text: str, x: float, base_font: str) -> float:
        name = names["Bold" if "Bold" in base_font else "Regular"]
        return x + stringWidth(text, name, pdf_module.FONT_SIZE)

    header = next(right_edge(t, x, f) for t, x, f in drawn if t == "amount")
    amounts = [(t, x, f) for t, x, f in drawn if t.lstrip("-").startswith("€")]
    assert len(amounts) > 40 and any("Bold" in f for _, _, f in amounts)  # strong ones too
    for t, x, f in amounts:
        assert right_edge(t, x, f) == pytest.approx(header, abs=0.01), t
    status = next(x for t, x, _ in drawn if t == "status")
    assert next(x for t, x, _ in drawn if t == "(pending)") == pytest.approx(status, abs=0.01)


def test_pdftoppm_renders_the_same_pixels(both: Any, tmp_path: Path) -> None:
    require(shutil.which("pdftoppm"), "pdftoppm is not installed (apt-get install poppler-utils)")
    _, new, reference = both

    def render(path: Path, page: int) -> bytes:
        out = tmp_path / f"{path.stem}-{page}"
        subprocess.run(["pdftoppm", "-f", str(page), "-l", str(page), "-r", "100", "-gray",
                        str(path), str(out)], check=True, timeout=60)  # fmt: skip
        (image,) = tmp_path.glob(f"{out.name}*.pgm")
        data = image.read_bytes()
        image.unlink()
        return data

    for page in (1, len(PdfReader(new).pages)):  # the first (title, header) and the last (totals)
        pixels = render(new, page)
        assert pixels == render(reference, page)
        assert pixels.count(0) > 1000  # text was drawn: black pixels


@pytest.mark.parametrize(("regular", "bold"), [("DejaVuSans", "DejaVuSans-Bold"),
                                              ("Helvetica", "Helvetica-Bold")])  # fmt: skip
def test_a_font_change_between_rows_is_followed(
    regular: str, bold: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The painter reads the canvas's font at each row, as drawString does: after
    ``restoreState`` the regular font again, not the bold of a highlighted cell; a new
    character in the middle of the file goes to the subset drawString would give it."""
    if regular == "DejaVuSans":
        require(pdf_module.fonts().regular == regular, "DejaVu fonts missing "
                "(apt-get install fonts-dejavu-core)")  # fmt: skip
    monkeypatch.setattr(rl_config, "invariant", 1)

    def page(cells: Any) -> bytes:
        canvas = Canvas(io.BytesIO())
        painter = cells(canvas, [10.0, 100.0], [90.0, 90.0], [False, True], 3.0)
        canvas.setFont(regular, 7.5)
        painter.draw(700, ["a", "1"])
        canvas.saveState()
        canvas.setFont(bold, 7.5)
        canvas.setFillColorRGB(0.75, 0, 0)
        painter.draw(690, ["b€", "22"])
        canvas.restoreState()
        painter.draw(680, ["c€ Ж", "333"])
        canvas.setFont(regular, 9)  # another size: another head
        painter.draw(670, ["", "4 444"])
        painter.draw(660, ["a€ Жж", "€5"])
        data: bytes = canvas.getpdfdata()
        return data

    assert page(CellPainter) == page(plain_cells)
