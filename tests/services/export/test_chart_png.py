"""The chart as a PNG for the email (src/services/export/chart_png.py): the PDF's drawing,
painted with Pillow, at twice its size in points."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from reportlab.graphics.shapes import Drawing, Group, Rect, String
from reportlab.lib.colors import HexColor

from src.core.chart import PALETTE, ChartData, read_chart
from src.services.export.chart_drawing import HEIGHT, WIDTH
from src.services.export.chart_png import chart_png, drawing_png
from tests.fixtures.report_samples import ROWS, SPECS

SHOWN = [SPECS["region"], SPECS["units"], SPECS["revenue"]]


def points(raw: dict[str, Any]) -> ChartData:
    chart, _ = read_chart(raw, SPECS)
    assert chart is not None
    data = ChartData(chart, ["Region", "Units", "Revenue"], ["region", "units", "revenue"])
    data.add([row[1:] for row in ROWS])
    return data


def colours(png: bytes) -> dict[tuple[int, int, int], int]:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return {c: n for n, c in image.convert("RGB").getcolors(1 << 22) or []}


def near(found: dict[tuple[int, int, int], int], hex_color: str) -> int:
    want = tuple(int(hex_color[i : i + 2], 16) for i in (0, 2, 4))
    return sum(
        n for c, n in found.items() if all(abs(a - b) <= 8 for a, b in zip(c, want, strict=True))
    )


def test_each_chart_type_paints_its_series_in_the_palette() -> None:
    for raw in (
        {"type": "bar", "x": "region", "y": ["revenue", "units"]},
        {"type": "line", "x": "region", "y": ["revenue"]},
        {"type": "pie", "x": "region", "y": ["units"]},
    ):
        png = chart_png(points(raw), SHOWN, locale="fr")
        image = Image.open(io.BytesIO(png))
        assert image.size == (round(WIDTH * 2), round(HEIGHT * 2))
        found = colours(png)
        assert near(found, PALETTE[0]) > 500, raw  # the first series, or slice
        if raw["type"] != "line":
            assert near(found, PALETTE[1]) > 50, raw  # the second one (its swatch, its bars)


def test_shapes_transforms_and_turned_text_land_where_reportlab_puts_them() -> None:
    drawing = Drawing(100, 50)
    drawing.add(Rect(0, 0, 50, 25, fillColor=HexColor("#FF0000"), strokeColor=None))
    turned = Group(String(0, 0, "WWWW", fontSize=10, fillColor=HexColor("#0000FF")))
    turned.transform = (0, 1, -1, 0, 80, 5)  # 90 degrees, moved right
    drawing.add(turned)
    image = Image.open(io.BytesIO(drawing_png(drawing))).convert("RGB")
    assert image.size == (200, 100)
    assert image.getpixel((20, 80)) == (255, 0, 0)  # bottom left, in image rows from the top
    assert image.getpixel((150, 20)) == (255, 255, 255)
    blue = [(x, y) for x in range(200) for y in range(100)
            if (p := image.getpixel((x, y)))[2] > 200 and p[0] < 120]  # fmt: skip
    assert blue, "the turned text was not painted"
    xs, ys = [x for x, _ in blue], [y for _, y in blue]
    assert max(ys) - min(ys) > 2 * (max(xs) - min(xs))  # upright: taller than wide
