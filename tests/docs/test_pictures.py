"""The pictures in the docs are made by tests, from real reports, never by hand.

Each test makes its picture in tmp_path and checks it; with ``DOCS_PICTURES=1`` (``make
pictures``) it also writes it into docs/images/, where the docs show it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from src.core.chart import PALETTE
from src.core.highlight import NEGATIVE_COLOR
from tests.fixtures.demo_project import demo_project, manage_tasks
from tests.servers import ROOT, require

pytestmark = pytest.mark.pictures

IMAGES = ROOT / "docs" / "images"


def publish(picture: Path, name: str) -> None:
    """Write ``picture`` into docs/images/ when asked (DOCS_PICTURES=1); else check that
    the docs' copy is there, a PNG of about the same size."""
    target = IMAGES / name
    if os.environ.get("DOCS_PICTURES") == "1":
        IMAGES.mkdir(exist_ok=True)
        shutil.copyfile(picture, target)
        return
    assert target.exists(), f"{target} is missing: run `make pictures`"
    made, shown = Image.open(picture), Image.open(target)
    assert shown.format == "PNG"
    assert abs(made.width - shown.width) <= 2 and abs(made.height - shown.height) <= 40


def count(image: Image.Image, hex_color: str, tolerance: int = 40) -> int:
    want = [int(hex_color[i : i + 2], 16) for i in (0, 2, 4)]
    return sum(
        n
        for n, c in image.getcolors(1 << 22) or []
        if all(abs(a - b) <= tolerance for a, b in zip(c, want, strict=True))
    )


def test_the_demo_reports_first_page(tmp_path: Path) -> None:
    """docs/reports.md's picture: the first page of the bundled demo's PDF, as `make run`
    writes it (the demo task of examples/demo-tasks.json on the demo database)."""
    require(shutil.which("pdftoppm"), "pdftoppm is not installed (apt-get install poppler-utils)")
    demo_project(tmp_path)
    result = manage_tasks(tmp_path, "run", "Demo sales", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    (pdf,) = (tmp_path / "data" / "exports").rglob("*.pdf")
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", "110", "-png", str(pdf), str(tmp_path / "page")],
        check=True, timeout=60,
    )  # fmt: skip
    (page,) = tmp_path.glob("page*.png")
    image = Image.open(page).convert("RGB")
    # the page down to its last drawing (the table), with a margin: not the empty rest
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    assert box is not None
    footer_free = image.crop((0, 0, image.width, image.height - 80))
    content = ImageChops.difference(footer_free, Image.new("RGB", footer_free.size, "white"))
    bottom = (content.getbbox() or box)[3]
    picture = image.crop((0, 0, image.width, min(bottom + 40, image.height)))
    assert count(picture, PALETTE[0]) > 2000, "no chart bars on the page"
    assert count(picture, NEGATIVE_COLOR, 60) > 20, "no unpaid orders in red"
    out = tmp_path / "report-page.png"
    picture.save(out, optimize=True)
    publish(out, "report-page.png")
