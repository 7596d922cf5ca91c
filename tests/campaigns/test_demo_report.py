"""A report a manager forwards unedited: the README's quick tour on the bundled demo,
with no configuration. Every file is read back with a real reader (openpyxl, pdftotext,
csv, the email parser, the dry run's output) and none shows a float's binary noise."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from src.cli import render
from src.services.demo import build_demo_database
from tests.servers import ROOT
from tests.services.test_runner import Harness, make_task

QUICK_TOUR = re.search(
    r'--query "(SELECT region, SUM\(total\)[^"]*)"', (ROOT / "README.md").read_text()
).group(1)
#: Binary noise as Python's repr shows it: ...55999999994, ...0000000094.
NOISE = re.compile(r"\d\.\d*(?:9{6,}|0{6,})\d")


@pytest.fixture
def demo(tmp_path: Path) -> str:
    path = tmp_path / "demo.db"
    build_demo_database(path, date(2026, 11, 2))
    return f"sqlite:///{path}"


def run(tmp_path: Path, url: str, **task: object) -> tuple[Harness, object]:
    h = Harness(tmp_path, {"DATABASE_URL": url}, make_task(**task))
    outcome = h.runner.run(h.task, scheduled_for=datetime(2026, 11, 23, 8, tzinfo=UTC))
    assert outcome.ok, outcome.error
    return h, outcome


def test_quick_tour_report_has_no_float_noise_anywhere(tmp_path: Path, demo: str) -> None:
    h, outcome = run(
        tmp_path, demo, name="Weekly revenue", description="Revenue by region this month",
        query=QUICK_TOUR, params={}, timezone="Europe/Berlin",
    )  # fmt: skip
    try:
        files = {p.suffix: p for p in h.export_files()}
        # the xlsx keeps the exact float; the repr of that float is noisy
        ws = openpyxl.load_workbook(files[".xlsx"]).active
        sums = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
        assert outcome.preview and {r[0]: r[1] for r in outcome.preview} == sums
        assert any(NOISE.search(repr(v)) for v in sums.values()), "the demo no longer shows it"
        assert ws.title == "Weekly revenue"
        texts = {"csv": files[".csv"].read_text(encoding="utf-8")}
        pdftotext = shutil.which("pdftotext")
        texts["pdf"] = (
            subprocess.run([pdftotext, "-layout", str(files[".pdf"]), "-"], check=True,
                           capture_output=True, text=True, timeout=60).stdout
            if pdftotext else "\n".join(p.extract_text() for p in PdfReader(files[".pdf"]).pages)
        )  # fmt: skip
        (eml,) = h.outbox()
        msg = message_from_bytes(eml.read_bytes(), policy=default_policy)
        texts["plain"] = msg.get_body(("plain",)).get_content()
        texts["html"] = msg.get_body(("html",)).get_content()
        texts["dry run"] = render.preview_text(outcome)
        for where, text in texts.items():
            assert not NOISE.search(text), f"{where}: {NOISE.search(text).group()}"
            for value in sums.values():
                assert f"{value:.2f}".rstrip("0").rstrip(".") in text, (where, value)
        assert "Revenue by region this month" in texts["pdf"]
        assert re.search(r"<th align=\"right\"[^>]*>revenue</th>", texts["html"])
    finally:
        h.close()


def test_sqlite_dates_are_real_dates_in_the_xlsx(tmp_path: Path, demo: str) -> None:
    h, outcome = run(
        tmp_path, demo, name="Daily lines",
        query="SELECT order_date, region, total FROM sales ORDER BY id LIMIT 50",
    )  # fmt: skip
    try:
        (xlsx,) = [p for p in h.export_files() if p.suffix == ".xlsx"]
        ws = openpyxl.load_workbook(xlsx).active
        cell = ws["A2"]
        assert isinstance(cell.value, datetime) and cell.number_format == "yyyy-mm-dd"
        assert cell.value.date() == date.fromisoformat(str(outcome.preview[0][0]))
        assert isinstance(ws["B2"].value, str)
    finally:
        h.close()
