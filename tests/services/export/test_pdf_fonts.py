"""The PDF's fonts (src/services/export/pdf_fonts.py): DejaVu Sans where Debian's
fonts-dejavu-core is, registered once, else Helvetica."""

from __future__ import annotations

from reportlab.pdfbase import pdfmetrics

from src.services.export.pdf_fonts import FONT_FILES, fonts


def test_fonts_are_registered_once_and_cover_the_french_thousands_space() -> None:
    first = fonts()
    assert fonts() is first
    if all(p.exists() for p in FONT_FILES.values()):
        assert (first.regular, first.bold) == ("DejaVuSans", "DejaVuSans-Bold")
        face = pdfmetrics.getFont(first.regular).face
        assert 0x202F in face.charToGlyph  # fr groups thousands with U+202F
    else:
        assert (first.regular, first.bold) == ("Helvetica", "Helvetica-Bold")
