"""The PDF table's cells: cut to their column, measured once, drawn as reportlab's
``drawString`` / ``drawRightString`` draw them, byte for byte, for less CPU.

Per cell, ``drawString`` builds a text object, measures the text (again, after ``fit``
measured it), splits it into the TrueType font's 256-glyph subsets (``splitString``, a
Python loop per character that also records which glyphs the file embeds) and formats
the numbers: about 11 µs a cell, most of the PDF's time. What it writes is one line::

    BT 1 0 0 1 <x> <y> Tm <body>      body: /F1+0 7.5 Tf 9 TL (text) Tj T* ET

The body depends only on the font, its size and leading, and the text, not on where it
is drawn; and in the text, each character is one byte of its subset (escaped on its
own: ``\\(``, ``\\351``). :class:`CellPainter` writes the same lines
(``Canvas.addLiteral``, one call per row), making the body in one of two ways:

* Every character already learnt (the usual case): the subset's head
  (``/F1+0 7.5 Tf 9 TL``) and the text translated character by character
  (``str.translate``) into its escaped bytes, one C call.
* Otherwise: reportlab's text object writes it (``beginText`` / ``textLine`` /
  ``getCode``, what ``drawString`` does), which assigns the new characters to subsets,
  so their glyphs are embedded, in the order ``drawString`` would. Then each character
  of the text is drawn alone the same way and read back: when it is one byte under the
  head the others have, that byte is learnt. A character's subset and byte never change
  within a document (reportlab only adds to them), so what is learnt stays true; a
  character in another subset (past the first 256) is not learnt, and a text with one
  goes through reportlab each time (its body kept, for a repeated value).

Every byte is read from reportlab's own output; what is taken as known is that PDF string
escapes are byte by byte and that reportlab never moves a character it has assigned
(both what reportlab does; the tests would fail otherwise).
A cell's width is measured once, for the cut (:func:`fit`) and the right alignment.
The canvas's current font is read from the attributes reportlab's own text object reads
(``_fontname``, ``_fontsize``, ``_leading``): the cells follow ``setFont`` and
``restoreState`` as ``drawString`` does. tests/services/export/test_pdf_cells.py compares
the file, its text and its pixels with plain ``drawString``.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.pdfgen.canvas import Canvas

#: Bodies of texts with a character not learnt, kept per document (a bound on the
#: memory; past it, more texts are drawn uncached, no less right)
MAX_CACHED = 20_000
_TAIL = ") Tj T* ET"
_ORIGIN = "BT 1 0 0 1 0 0 Tm "
#: Each byte's escaped form in a PDF string, and back (escapePDF escapes byte by byte)
_ESCAPED = [escapePDF(bytes([b])) for b in range(256)]
_BYTE_OF = {e: b for b, e in enumerate(_ESCAPED)}


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
    t = canvas.beginText(0, 0)
    t.textLine(text)
    code: str = t.getCode()
    if not code.startswith(_ORIGIN):  # a reportlab that writes text otherwise: say so
        raise RuntimeError(f"reportlab wrote {code[:60]!r}, not a text object at 0 0")
    return code[len(_ORIGIN) :]


def _one_chunk(body: str) -> tuple[str, str] | None:
    """``(head, escaped byte)`` when ``body`` draws one byte after one head (a single
    character in one subset), else None."""
    if not body.endswith(_TAIL):
        return None
    inner = body[: -len(_TAIL)]
    for size in (1, 2, 4):  # "a", "\\(", "\\351"
        escaped = inner[-size:]
        if escaped in _BYTE_OF and inner[-size - 1 : -size] == "(":
            head = inner[: -size - 1]
            return (head, escaped) if " Tj" not in head else None
    return None


class _Learnt:
    """What is known of one (font, size, leading) in one document: the head of the
    subset learnt, and its characters as their escaped bytes."""

    def __init__(self) -> None:
        self.head: str | None = None
        self.chars: set[str] = set()
        self.escaped: dict[int, str] = {}  # for str.translate


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
        self.left_x = [fp_str(xi + pad) for xi in x]
        self.right_x = [xi + w - pad for xi, w in zip(x, widths, strict=True)]
        #: Per (column, text width): a right-aligned cell's x as written (numbers of as
        #: many digits are as wide: the same few widths again and again)
        self._right_xs: dict[tuple[int, float], str] = {}
        self._learnt: dict[tuple[str, float, float], _Learnt] = {}
        self._bodies: dict[tuple[str, float, float, str], str] = {}

    def draw(self, y: float, cells: Sequence[str]) -> None:
        """One row of ``cells`` (empty ones are skipped) on the baseline ``y``, in the
        canvas's current font and colour, each cut to its column."""
        canvas = self.canvas
        font, size = canvas._fontname, canvas._fontsize
        key = (font, size, canvas._leading)
        learnt = self._learnt.get(key)
        if learnt is None:
            learnt = self._learnt[key] = _Learnt()
        chars, escaped, head = learnt.chars, learnt.escaped, learnt.head
        measure = getFont(font).stringWidth  # what pdfmetrics.stringWidth calls
        room, right, right_xs = self.room, self.right, self._right_xs
        ys = fp_str(y)
        lines = []
        for i, text in enumerate(cells):
            if not text:
                continue
            width = measure(text, size)
            if width > room[i]:
                text = _cut(text, font, size, room[i])
                if not text:
                    continue
                width = measure(text, size)
            if chars.issuperset(text):
                body = f"{head}({text.translate(escaped)}{_TAIL}"
            else:
                body = self._body(key, learnt, text)
                head = learnt.head
            if right[i]:
                x = right_xs.get((i, width))
                if x is None:
                    x = right_xs[i, width] = fp_str(self.right_x[i] - width)
            else:
                x = self.left_x[i]
            lines.append(f"BT 1 0 0 1 {x} {ys} Tm {body}")
        if lines:
            canvas.addLiteral("\n".join(lines))

    def _body(self, key: tuple[str, float, float], learnt: _Learnt, text: str) -> str:
        """The body as reportlab writes it; then what it says of each new character."""
        cached = self._bodies.get((*key, text))
        if cached is not None:
            return cached
        body = _body(self.canvas, text)  # assigns the new characters, in drawString's order
        for char in set(text) - learnt.chars:
            one = _one_chunk(_body(self.canvas, char))  # assigned now: nothing changes
            if one is None:
                continue
            head, byte = one
            if learnt.head is None:
                learnt.head = head
            if head == learnt.head:
                learnt.chars.add(char)
                learnt.escaped[ord(char)] = byte
        if not learnt.chars.issuperset(text) and len(self._bodies) < MAX_CACHED:
            self._bodies[(*key, text)] = body
        return body
