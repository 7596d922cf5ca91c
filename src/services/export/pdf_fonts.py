"""The fonts of the PDF and of the chart drawn in it (and rasterised for the email).

DejaVu Sans (Debian's fonts-dejavu-core) covers Latin, Greek, Cyrillic, Hebrew, Arabic
letters and many symbols (U+202F, the French thousands space, too); without it Helvetica
is used, and characters outside Latin-1 may show as boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_FILES = {
    "DejaVuSans": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    "DejaVuSans-Bold": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str


_fonts: Fonts | None = None


def fonts() -> Fonts:
    """DejaVu Sans registered with reportlab (once per process), or Helvetica."""
    global _fonts
    if _fonts is None:
        if all(p.exists() for p in FONT_FILES.values()):
            for name, path in FONT_FILES.items():
                pdfmetrics.registerFont(TTFont(name, str(path)))
            _fonts = Fonts("DejaVuSans", "DejaVuSans-Bold")
        else:
            _fonts = Fonts("Helvetica", "Helvetica-Bold")
    return _fonts
