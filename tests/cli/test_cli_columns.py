"""A task's ``columns`` through the CLI: ``validate`` refuses what a run could not show,
a run applies them to every output and notes names the result does not have
(src/cli/render.py::preview_text, src/services/runner.py)."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import openpyxl

from tests.cli.test_cli_run import add_demo, folder, invoke

__all__ = ["folder"]  # the fixture, imported for these tests

COLUMNS = {
    "region": {"label": "Region"},
    "revenue": {"label": "Revenue", "format": "currency", "currency": "EUR", "total": "sum"},
    "revnue": {"label": "typo"},
}


def set_columns(folder: Path, columns: object) -> None:
    path = folder / "tasks.json"
    data = json.loads(path.read_text())
    data["tasks"][0]["columns"] = columns
    path.write_text(json.dumps(data))


def parts(eml: Path) -> tuple[str, str]:
    message = message_from_bytes(eml.read_bytes())
    texts = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.get_filename():
            assert isinstance(part, Message)
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            texts[part.get_content_type()] = payload.decode()
    return texts["text/plain"], texts["text/html"]


def test_validate_names_every_bad_setting_with_its_field(folder: Path) -> None:
    add_demo(folder)
    set_columns(
        folder,
        {
            "revenue": {"format": "currency", "currency": "EURO", "decimals": 12},
            "region": {"format": "text", "total": "sum"},
        },
    )
    result = invoke(folder, "validate")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[1:] == [
        "  task #1 'Revenue': columns.revenue.decimals: 12 is out of range: give 0 to 10",
        "  task #1 'Revenue': columns.revenue.currency: 'EURO' is not an ISO 4217 currency "
        "code (EUR, USD, CHF...)",
        "  task #1 'Revenue': columns.region.total: a text column cannot have a sum total; "
        "it can have count",
    ]


def test_a_run_applies_labels_formats_and_totals_and_notes_an_unknown_name(
    folder: Path,
) -> None:
    add_demo(folder)
    set_columns(folder, COLUMNS)
    result = invoke(folder, "run", "Revenue")
    assert result.exit_code == 0, result.output
    assert "success" in result.stdout.splitlines()[0]
    (record,) = json.loads(invoke(folder, "history", "--json").stdout)
    assert record["status"] == "success"
    assert any("'revnue', which the result does not have" in n for n in record["notes"])
    (eml,) = (folder / "data" / "outbox").glob("*.eml")
    plain, html = parts(eml)
    assert "Region" in plain and "Revenue" in plain and "€60,603.46" in plain
    assert plain.count("Total") == 1 and ">Revenue</th>" in html and "<b>Total</b>" in html
    (xlsx,) = (folder / "data" / "exports").glob("*/*.xlsx")
    ws = openpyxl.load_workbook(xlsx).active
    assert ws is not None
    assert [c.value for c in ws[1]] == ["Region", "Revenue"]
    assert ws["B2"].number_format == '"€"#,##0.00'
    assert ws["B6"].value == "=SUBTOTAL(109,B2:B5)"


def test_the_dry_run_shows_formats_and_the_totals_row(folder: Path) -> None:
    add_demo(folder)
    set_columns(folder, COLUMNS)
    out = invoke(folder, "run", "Revenue", "--dry-run").stdout
    lines = out.splitlines()
    assert lines[0] == "First 4 of 4 rows:"
    assert lines[1].split() == ["Region", "Revenue"]
    assert lines[2].split() == ["East", "€60,603.46"]
    assert lines[6].split()[0] == "Total" and lines[6].split()[1].startswith("€")


def test_edit_keeps_the_columns_it_does_not_change(folder: Path) -> None:
    add_demo(folder)
    set_columns(folder, COLUMNS)
    result = invoke(folder, "edit", "Revenue", "--description", "Weekly revenue")
    assert result.exit_code == 0, result.output
    saved = json.loads((folder / "tasks.json").read_text())["tasks"][0]
    assert saved["columns"] == COLUMNS and saved["description"] == "Weekly revenue"
