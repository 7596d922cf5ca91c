"""The PDF table's cells: cut to their column, measured once, drawn as reportlab's
``drawString`` / ``drawRightString`` draw them, byte for byte, for less CPU.

Per cell, ``drawString`` builds a text object, measures the text (again, after ``fit``
measured it), splits it into the TrueType font's 256-glyph subsets (``splitString``, a
Python loop per character that also records which glyphs the file embeds) and formats
the numbers: about 20 µs a cell, most of the PDF's time. What it writes is one line::

    BT 1 0 0 1 <x> <y> Tm <body>      body: /F1+0 7.5 Tf 9 TL (text) Tj T* ET

The body depends only on the font, its size and leading, and the text, not on where it
is drawn. :class:`CellPainter` writes the same lines (``Canvas.addLiteral``, one call per
row), making the body in one of two ways:

* Printable ASCII: every such character sits in subset 0 under its own code from the
  document's start (reportlab's ``ttfAsciiReadable``; for Helvetica, WinAnsi), so the
  body is the font's head (``/F1+0 7.5 Tf 9 TL``, learnt from reportlab's own output for
  the first such cell) and the escaped text. Whether a font maps printable ASCII so is
  asked of reportlab once, on a scratch canvas (:func:`_ascii_is_itself`): no guess.
* Anything else (Cyrillic, symbols, control characters, a font that fails the check):
  reportlab's text object writes it (``beginText`` / ``textLine`` / ``getCode``, what
  ``drawString`` does), which assigns new characters to subsets so their glyphs are
  embedded. The body is kept per (font, size, text): a character's subset and code never
  change within a document, so a repeated value is not split again.

A cell's width is measured once, for the cut (:func:`fit`) and the right alignment.
The canvas's current font is read from the attributes reportlab's own text object reads
(``_fontname``, ``_fontsize``, ``_leading``): the cells follow ``setFont`` and
``restoreState`` as ``drawString`` does. tests/services/export/test_pdf_cells.py compares
the pages, their text and their pixels with plain ``drawString``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

#: Every printable ASCII character: the probe of :func:`_ascii_is_itself`.
PRINTABLE_ASCII = "".join(map(chr, range(32, 127)))
#: Bodies of non-ASCII texts kept per document (a bound on the memory; past it, more
#: texts are drawn uncached, no less right)
MAX_CACHED = 20_000
_TAIL = ") Tj T* ET"
_ORIGIN = "BT 1 0 0 1 0 0 Tm "

#: Per font name: whether printable ASCII is drawn as itself in one chunk (per process:
#: a font is registered once)
_ascii_fonts: dict[str, bool] = {}


def fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis so that it is at most ``width`` points wide."""
    if stringWidth(text, font, size) <= width:
        return text
    return _cut(text, font, size, width)


def _cut(text: str, font: str, size: float, width: float) -> str:
    lo, hi = 0, min(len(text), int(width / (size * 0.2)) + 1)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid] + "…", font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…" if lo else ""


def _body(canvas: Canvas, text: str) -> str:
    """What reportlab's text object writes after the ``Tm`` for ``text`` in the canvas's
    current font: the plain way, and the one that records the glyphs to embed."""
    code: str = _text_code(canvas, text)
    if not code.startswith(_ORIGIN):
        raise RuntimeError(f"reportlab wrote {code[:60]!r}, not a text object at 0 0")
    return code[len(_ORIGIN) :]


def _text_code(canvas: Canvas, text: str) -> str:
    t = canvas.beginText(0, 0)
    t.textLine(text)
    code: str = t.getCode()
    return code


def _ascii_is_itself(font: str, size: float) -> bool:
    """Whether reportlab draws printable ASCII in ``font`` as the escaped text itself,
    one chunk after the font's head, in a fresh document (asked on a scratch canvas, so
    the real file's subsets are not touched)."""
    if font not in _ascii_fonts:
        scratch = Canvas(io.BytesIO())
        scratch.setFont(font, size)
        body = _body(scratch, PRINTABLE_ASCII)
        tail = f"({escapePDF(PRINTABLE_ASCII)}{_TAIL}"
        _ascii_fonts[font] = body.endswith(tail) and "Tj" not in body[: -len(tail)]
    return _ascii_fonts[font]


class CellPainter:
    """Draws a table's rows of one-line cells on ``canvas``: column ``i`` starts at
    ``x[i]`` and is ``widths[i]`` wide, its text ``pad`` inside, right-aligned when
    ``right[i]``."""

    def __init__(
        self,
        canvas: Canvas,
        x: Sequence[float],
        widths: Sequence[float],
        right: Sequence[bool],
        pad: float,
    ) -> None:
        self.canvas = canvas
        self.right = list(right)
        self.room = [w - 2 * pad for w in widths]
        # the same sums, in the same order, as drawString(x + pad) and
        # drawRightString(x + width - pad) would get: the same floats, the same digits
        self.left_x = [xi + pad for xi in x]
        self.right_x = [xi + w - pad for xi, w in zip(x, widths, strict=True)]
        #: Per (font, size, leading): the body's start for printable ASCII (None: the
        #: font does not draw ASCII as itself)
        self._heads: dict[tuple[str, float, float], str | None] = {}
        self._bodies: dict[tuple[str, float, float, str], str] = {}

    def draw(self, y: float, cells: Sequence[str]) -> None:
        """One row of ``cells`` (empty ones are skipped) on the baseline ``y``, in the
        canvas's current font and colour, each cut to its column."""
        canvas = self.canvas
        font, size = canvas._fontname, canvas._fontsize
        key = (font, size, canvas._leading)
        head = self._heads.get(key)
        room, right = self.room, self.right
        ys = fp_str(y)
        lines = []
        for i, text in enumerate(cells):
            if not text:
                continue
            width = stringWidth(text, font, size)
            if width > room[i]:
                text = _cut(text, font, size, room[i])
                if not text:
                    continue
                width = stringWidth(text, font, size)
            if head is not None and text.isascii() and text.isprintable():
                body = f"{head}({escapePDF(text)}{_TAIL}"
            else:
                body = self._slow_body(key, text)
                head = self._heads.get(key)
            x = self.right_x[i] - width if right[i] else self.left_x[i]
            lines.append(f"BT 1 0 0 1 {fp_str(x)} {ys} Tm {body}")
        if lines:
            canvas.addLiteral("\n".join(lines))

    def _slow_body(self, key: tuple[str, float, float], text: str) -> str:
        """The body as reportlab writes it (kept for a repeated text); the first
        printable ASCII text of a font teaches the head of the fast way."""
        cached = self._bodies.get((*key, text))
        if cached is not None:
            return cached
        body = _body(self.canvas, text)
        if text.isascii() and text.isprintable():
            if key not in self._heads:
                tail = f"({escapePDF(text)}{_TAIL}"
                ascii_ok = _ascii_is_itself(key[0], key[1]) and body.endswith(tail)
                self._heads[key] = body[: -len(tail)] if ascii_ok else None
        elif len(self._bodies) < MAX_CACHED:
            self._bodies[(*key, text)] = body
        return body
