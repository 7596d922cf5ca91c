"""The README's picture of a report is a real one: the bundled demo task
(examples/demo-tasks.json on the demo database, as `make run` sets it up) through
`manage_tasks.py preview`, its email drawn by headless Chromium.

Every test run makes the picture into a temporary folder and checks it; `make pictures`
(``DOCS_PICTURES=1``) writes it into docs/images/, where the README shows it.
"""

from __future__ import annotations

import os
import re
import struct
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.demo_project import demo_project, manage_tasks
from tests.servers import ROOT

pytestmark = pytest.mark.pictures

EMAIL_PICTURE = ROOT / "docs" / "images" / "report-email.png"
#: The picture's width: the 640 px email and the margin a mail client leaves around it.
PICTURE_WIDTH = 680


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is no PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def preview_demo(folder: Path) -> Path:
    """`manage_tasks.py preview "Demo sales"` in a project folder as `make run` leaves it;
    the preview's folder."""
    demo_project(folder)
    result = manage_tasks(folder, "preview", "Demo sales")
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.match(r"Preview of 'Demo sales' \(nothing sent, nothing recorded\): (.+)\n",
                     result.stdout)  # fmt: skip
    assert match, result.stdout
    return Path(match.group(1))


def test_the_readme_shows_the_demo_report_as_preview_makes_it(page: Any, tmp_path: Path) -> None:
    made = preview_demo(tmp_path / "project")
    page.set_viewport_size({"width": PICTURE_WIDTH, "height": 600})
    page.goto((made / "email.html").as_uri())
    # what makes it a report: title, description, figures, a formatted table with totals
    assert page.locator("h1").inner_text() == "Demo sales"
    figures = page.locator("td.figure").all_inner_texts()
    assert [f.splitlines()[-1] for f in figures] == [
        "Rows", "Units (total)", "Revenue (total)", "Unpaid orders (total)",
    ]  # fmt: skip
    assert re.fullmatch(r"€[\d,]+\.\d\d", figures[2].splitlines()[0])
    assert page.locator("table.preview tr.totals td").first.inner_text() == "Total"
    # the demo's chart, an inline image of the message, drawn
    chart = page.locator("img.chart")
    assert chart.evaluate("img => img.complete && img.naturalWidth") > 500
    attached = page.locator("table.attachments td").all_inner_texts()
    yesterday = date.fromordinal(date.today().toordinal() - 1).isoformat()
    assert [a.split(",")[0] for a in attached] == [
        f"demo-sales_{yesterday}.{ext}" for ext in ("xlsx", "pdf", "csv")
    ]
    wanted = os.environ.get("DOCS_PICTURES") == "1"
    target = EMAIL_PICTURE if wanted else tmp_path / EMAIL_PICTURE.name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    width, height = png_size(target)
    assert width == PICTURE_WIDTH and height >= 900, (width, height)
    # the README shows the committed picture, made the same way
    readme = (ROOT / "README.md").read_text()
    assert f"]({EMAIL_PICTURE.relative_to(ROOT).as_posix()})" in readme
    assert png_size(EMAIL_PICTURE)[0] == PICTURE_WIDTH
