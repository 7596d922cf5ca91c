"""The report options of `add` and `edit` (src/cli/task_options.py over
src/core/report_edit.py) and a run that uses them: labels, formats, totals, highlights,
a chart and a locale, from the command line to the files and the email."""

from __future__ import annotations

import json
import zipfile
from email import message_from_bytes
from pathlib import Path
from typing import Any

import openpyxl

from tests.cli.test_cli_run import add_demo, folder, invoke

__all__ = ["folder"]  # the fixture, imported for these tests

REPORT = (
    "--label", "revenue=Revenue",
    "--format", "revenue=currency:EUR:2",
    "--total", "revenue=sum",
    "--highlight", "revenue>=60000=strong",
    "--chart", "bar:x=region:y=revenue:title=Revenue by region",
    "--locale", "de",
)  # fmt: skip


def task_json(folder: Path) -> dict[str, Any]:
    (task,) = json.loads((folder / "tasks.json").read_text())["tasks"]
    return dict(task)


def test_add_writes_the_report_settings(folder: Path) -> None:
    add_demo(folder, *REPORT)
    task = task_json(folder)
    assert task["columns"] == {
        "revenue": {
            "label": "Revenue",
            "format": "currency",
            "decimals": 2,
            "currency": "EUR",
            "total": "sum",
            "highlight": [{"when": ">= 60000", "style": "strong"}],
        }
    }
    assert task["chart"] == {
        "type": "bar", "x": "region", "y": ["revenue"], "title": "Revenue by region",
    }  # fmt: skip
    assert task["locale"] == "de"
    shown = invoke(folder, "show", "Revenue").stdout.splitlines()
    assert [line for line in shown if line.startswith(("Column:", "Locale:", "Chart:"))] == [
        'Column:       revenue {"label": "Revenue", "format": "currency", "decimals": 2, '
        '"currency": "EUR", "total": "sum", "highlight": [{"when": ">= 60000", "style": '
        '"strong"}]}',
        "Locale:       de",
        "Chart:        bar of revenue by region 'Revenue by region'",
    ]


def test_edit_keeps_what_it_does_not_change(folder: Path) -> None:
    add_demo(folder, *REPORT)
    result = invoke(folder, "edit", "Revenue", "--chart", "line", "--label", "region=Region",
                    "--hide", "region", "--no-check")  # fmt: skip
    assert result.exit_code == 1  # a chart over a hidden column is refused, with its field
    assert result.output == (
        "Error: chart.x: the column 'region' is hidden (columns.region.hidden), so no file "
        "shows it to draw from; show it or chart another column\n"
    )
    result = invoke(folder, "edit", "Revenue", "--chart", "line", "--label", "region=Region")
    assert result.exit_code == 0, result.output
    task = task_json(folder)
    assert task["chart"]["type"] == "line" and task["chart"]["title"] == "Revenue by region"
    assert task["columns"]["region"] == {"label": "Region"}
    assert task["columns"]["revenue"]["currency"] == "EUR"  # kept
    invoke(folder, "edit", "Revenue", "--no-chart", "--highlight", "revenue=none")
    task = task_json(folder)
    assert "chart" not in task and "highlight" not in task["columns"]["revenue"]


def test_errors_say_what_where_and_how(folder: Path) -> None:
    add_demo(folder)
    cases = {
        ("--format", "revenue=money"): "Error: --format: 'money' in 'revenue=money' is not a "
        "format; known: integer, number, currency, percent, date, datetime, text, boolean "
        "(or none to remove it)\n",
        ("--format", "revenue=currency:EURO"): "Error: columns.revenue.currency: 'EURO' is not "
        "an ISO 4217 currency code (EUR, USD, CHF...)\n",
        ("--highlight", "revenue<0=red"): "Error: columns.revenue.highlight[0].style: 'red' is "
        "not a style; known: negative (red text (#C00000), for losses and shortfalls); strong "
        "(bold text, for figures to look at first); fill (a light yellow fill (#FFF2CC) behind "
        "the cell, to mark it)\n",
        ("--chart", "pie:x=region:y=revenue,units"): "Error: chart.y: a pie shows one column of "
        "numbers; 'revenue', 'units' are 2: keep one, or use a bar chart\n",
        ("--chart", "bar:x=region:y=revenu"): "Error: task 'Revenue': chart names 'revenu', "
        "which the query's result does not have (its columns: region, revenue); use those "
        "names as the query writes them (an alias: SUM(total) AS revenue)\nNothing was saved.\n",
    }
    for args, message in cases.items():
        result = invoke(folder, "edit", "Revenue", *args)
        assert (result.exit_code, result.output) == (1, message), args
    result = invoke(folder, "edit", "Revenue", "--locale", "es")
    assert result.exit_code == 2 and "'es' is not one of 'en', 'en_GB', 'de'" in result.output
    result = invoke(folder, "edit", "Revenue", "--chart", "bar", "--no-chart")
    assert result.exit_code == 2 and "give --chart or --no-chart, not both" in result.output


def test_a_run_shows_the_chart_the_highlights_and_the_locale_everywhere(folder: Path) -> None:
    add_demo(folder, *REPORT, "--pdf")
    result = invoke(folder, "run", "Revenue")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(invoke(folder, "history", "--json").stdout)
    assert record["status"] == "success" and not record.get("notes")
    (xlsx,) = (folder / "data" / "exports").glob("*/*.xlsx")
    assert "xl/charts/chart1.xml" in zipfile.ZipFile(xlsx).namelist()
    sheet = openpyxl.load_workbook(xlsx).worksheets[0]
    assert sheet["B2"].number_format == '[$-407]#,##0.00 "€"'
    (eml,) = (folder / "data" / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes())
    types = [p.get_content_type() for p in message.walk()]
    assert "multipart/related" in types and "image/png" in types
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "cid:" in body and "60.603,46\xa0€" in body and "font-weight:bold" in body
    dry = invoke(folder, "run", "Revenue", "--dry-run")
    assert "60.603,46\xa0€" in dry.stdout


def test_a_chart_over_more_than_50_rows_is_a_note_never_a_failed_run(folder: Path) -> None:
    add_demo(folder)
    query = "SELECT id, total FROM sales"  # one row per sale: far more than 50
    result = invoke(folder, "edit", "Revenue", "--query", query, "--chart",
                    "bar:x=id:y=total", "--pdf")  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke(folder, "run", "Revenue")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(invoke(folder, "history", "--json").stdout)
    assert record["status"] == "success"
    [note] = [n for n in record["notes"] if "chart" in n]
    assert note.startswith("the chart was not drawn: the result has ")
    assert "a chart shows at most 50 categories (one per row)" in note
    (xlsx,) = (folder / "data" / "exports").glob("*/*.xlsx")
    assert "xl/charts/chart1.xml" not in zipfile.ZipFile(xlsx).namelist()
    (eml,) = (folder / "data" / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes())
    assert "image/png" not in [p.get_content_type() for p in message.walk()]
    plain = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    text = plain.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "The chart was not drawn: the result has " in text
