"""The chart as a PNG, for the email's inline picture: the PDF's drawing, rasterised.

reportlab's own bitmap renderer (``renderPM``) needs a backend that cannot be had here
without building C code: reportlab 5 accepts only ``rlPyCairo``, whose pycairo has no
binary wheel for Linux (it compiles against libcairo2-dev), and refuses the older
``_renderPM`` extension. So the shapes of the same reportlab drawing (rectangles, lines,
polylines, pie wedges as polygons, strings, in groups with transforms) are painted with
Pillow, which reportlab itself depends on and which ships wheels with FreeType. The
chart is laid out once, by reportlab, for both the PDF and the picture.

Painted at 4x and scaled down by 2: smooth edges (Pillow does not antialias shapes) and a
picture twice the size it is shown at, sharp on high-density screens.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics.shapes import (
    Circle,
    Drawing,
    Group,
    Line,
    Polygon,
    PolyLine,
    Rect,
    String,
    UserNode,
    Wedge,
)

from src.core.chart import ChartData
from src.core.column_format import ColumnSpec
from src.core.vocabulary import ReportLocale
from src.services.export.chart_drawing import chart_drawing
from src.services.export.pdf_fonts import FONT_FILES

#: Pixels per point painted, and the factor the picture is scaled down by afterwards.
PAINT_SCALE, DOWNSCALE = 4, 2
Transform = tuple[float, float, float, float, float, float]
_IDENTITY: Transform = (1, 0, 0, 1, 0, 0)


def _multiply(outer: Transform, inner: Transform) -> Transform:
    a, b, c, d, e, f = outer
    a2, b2, c2, d2, e2, f2 = inner
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_FILES["DejaVuSans-Bold" if bold else "DejaVuSans"]
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)  # Pillow's own font (Aileron), with FreeType


def _color(value: Any) -> tuple[int, int, int] | None:
    if value is None:
        return None
    return (round(value.red * 255), round(value.green * 255), round(value.blue * 255))


class _Painter:
    def __init__(self, drawing: Drawing) -> None:
        self.height = drawing.height
        size = (round(drawing.width * PAINT_SCALE), round(drawing.height * PAINT_SCALE))
        self.image = Image.new("RGB", size, "white")
        self.draw = ImageDraw.Draw(self.image)

    def point(self, t: Transform, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f = t
        px, py = a * x + c * y + e, b * x + d * y + f
        return px * PAINT_SCALE, (self.height - py) * PAINT_SCALE

    @staticmethod
    def scale(t: Transform) -> float:
        return math.sqrt(abs(t[0] * t[3] - t[1] * t[2])) or 1.0

    def width(self, t: Transform, stroke: float | None) -> int:
        return max(1, round((stroke if stroke is not None else 1) * self.scale(t) * PAINT_SCALE))

    def node(self, node: Any, t: Transform) -> None:
        if isinstance(node, UserNode):  # a widget (axis, label, legend): its shapes
            node = node.provideNode()
        if isinstance(node, Group):
            inner = _multiply(t, tuple(node.transform))
            for child in node.contents:
                self.node(child, inner)
        elif isinstance(node, Rect):
            x, y, w, h = node.x, node.y, node.width, node.height
            self.polygon(t, [x, y, x + w, y, x + w, y + h, x, y + h], node)
        elif isinstance(node, Wedge):
            self.polygon(t, node.asPolygon().points, node)
        elif isinstance(node, Polygon):
            self.polygon(t, node.points, node)
        elif isinstance(node, PolyLine):
            self.lines(t, node.points, node)
        elif isinstance(node, Line):
            self.lines(t, [node.x1, node.y1, node.x2, node.y2], node)
        elif isinstance(node, Circle):
            cx, cy = self.point(t, node.cx, node.cy)
            r = node.r * self.scale(t) * PAINT_SCALE
            self.draw.ellipse(
                [cx - r, cy - r, cx + r, cy + r],
                fill=_color(node.fillColor),
                outline=_color(node.strokeColor),
            )
        elif isinstance(node, String):
            self.text(t, node)

    def polygon(self, t: Transform, flat: Sequence[float], shape: Any) -> None:
        points = [self.point(t, flat[i], flat[i + 1]) for i in range(0, len(flat) - 1, 2)]
        if len(points) < 2:
            return
        fill = _color(getattr(shape, "fillColor", None))
        if fill is not None:
            self.draw.polygon(points, fill=fill)
        stroke = _color(getattr(shape, "strokeColor", None))
        if stroke is not None and (shape.strokeWidth or 0) > 0:
            self.draw.line(
                [*points, points[0]], fill=stroke, width=self.width(t, shape.strokeWidth)
            )

    def lines(self, t: Transform, flat: Sequence[float], shape: Any) -> None:
        stroke = _color(shape.strokeColor)
        if stroke is None or (shape.strokeWidth or 0) <= 0:
            return
        points = [self.point(t, flat[i], flat[i + 1]) for i in range(0, len(flat) - 1, 2)]
        self.draw.line(points, fill=stroke, width=self.width(t, shape.strokeWidth), joint="curve")

    def text(self, t: Transform, node: String) -> None:
        fill = _color(node.fillColor)
        if fill is None or not node.text:
            return
        size = max(1, round(node.fontSize * self.scale(t) * PAINT_SCALE))
        font = _font("Bold" in str(node.fontName), size)
        anchor = {"start": "ls", "middle": "ms", "end": "rs"}.get(node.textAnchor, "ls")
        x, y = self.point(t, node.x, node.y)
        angle = math.degrees(math.atan2(t[1], t[0]))
        if abs(angle) < 0.5:
            self.draw.text((x, y), node.text, font=font, fill=fill, anchor=anchor)
            return
        # turned text: painted on a square of its own around the anchor, rotated, pasted
        reach = math.ceil(font.getlength(node.text)) + size
        square = Image.new("L", (2 * reach, 2 * reach), 0)
        ImageDraw.Draw(square).text((reach, reach), node.text, font=font, fill=255, anchor=anchor)
        turned = square.rotate(angle, resample=Image.Resampling.BICUBIC)
        self.image.paste(Image.new("RGB", turned.size, fill), (round(x) - reach, round(y) - reach),
                         turned)  # fmt: skip


def drawing_png(drawing: Drawing) -> bytes:
    """A reportlab drawing as PNG bytes, twice its size in points."""
    painter = _Painter(drawing)
    painter.node(drawing, _IDENTITY)
    factor = PAINT_SCALE // DOWNSCALE
    size = (painter.image.width // factor, painter.image.height // factor)
    out = io.BytesIO()
    painter.image.resize(size, Image.Resampling.LANCZOS).save(out, "PNG", optimize=True)
    return out.getvalue()


def chart_png(
    data: ChartData,
    specs: Sequence[ColumnSpec],
    *,
    zone: ZoneInfo | None = None,
    locale: ReportLocale | None = None,
) -> bytes:
    """The chart of ``data`` (drawable) as a PNG: the drawing the PDF shows, painted."""
    return drawing_png(chart_drawing(data, specs, zone=zone, locale=locale))
