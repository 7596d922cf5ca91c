"""The email's chart, highlights and locale (src/services/mail/message.py,
src/services/mail/preview.py): the chart an inline image/png part whose Content-ID the
HTML names (multipart/related), sent to a real SMTP server; highlighted preview cells
with their inline style; the preview in the task's locale."""

from __future__ import annotations

import re
from pathlib import Path

from src.core.chart import ChartData, read_chart
from src.services.export.chart_png import chart_png
from src.services.mail import ReportEmail, SmtpSettings, build_report_message, send
from src.services.mail.preview import Preview, ReportBody
from src.services.mail.report_html import html_body
from tests.fixtures.report_samples import ROWS, SPECS
from tests.fixtures.smtp import SmtpServer

SHOWN = [SPECS["region"], SPECS["units"], SPECS["revenue"]]
PREVIEW = [row[1:] for row in ROWS]


def chart() -> tuple[bytes, str]:
    spec, _ = read_chart({"type": "bar", "x": "region", "y": ["revenue"]}, SPECS)
    assert spec is not None
    data = ChartData(spec, ["Region", "Units", "Revenue"], ["region", "units", "revenue"])
    data.add(PREVIEW)
    return chart_png(data, SHOWN), data.title


def report(tmp_path: Path, **fields: object) -> ReportEmail:
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(b"PK not really")
    values: dict[str, object] = {
        "task_name": "Regional sales",
        "to": ["anna@example.com"],
        "subject": "{task_name}",
        "body": "Sales by region.",
        "row_count": len(PREVIEW),
        "columns": ["Region", "Units", "Revenue"],
        "preview_rows": PREVIEW,
        "formats": SHOWN,
        "attachments": [xlsx],
    }
    values.update(fields)
    return ReportEmail(**values)  # type: ignore[arg-type]


def test_the_chart_is_an_inline_image_the_html_names(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    png, title = chart()
    settings = SmtpSettings.from_env(smtp_server.env())
    send(settings, build_report_message(report(tmp_path, chart_png=png, chart_title=title),
                                        settings))  # fmt: skip
    [got] = smtp_server.messages
    msg = got.message
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    cid = re.search(r'<img class="chart" src="cid:([^"]+)" alt="Revenue by Region"',
                    html_part.get_content())  # fmt: skip
    assert cid, "the HTML does not show the chart"
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    image = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(image) == 1
    assert image[0]["Content-ID"] == f"<{cid.group(1)}>"
    assert image[0].get_content_disposition() == "inline"
    assert image[0].get_payload(decode=True) == png
    # inside the related part, with the HTML it belongs to; the xlsx is still attached
    assert [p.get_content_type() for p in related[0].iter_parts()] == ["text/html", "image/png"]
    assert [a.get_filename() for a in msg.iter_attachments()] == ["report.xlsx"]


def test_no_chart_no_image_and_the_reason_in_the_body(tmp_path: Path) -> None:
    built = build_report_message(
        report(tmp_path, notes=["The chart was not drawn: the result has 80 rows."]),
        SmtpSettings.from_env({}),
    )
    msg = built.message
    assert not [p for p in msg.walk() if p.get_content_type().startswith("image/")]
    html_part = msg.get_body(preferencelist=("html",))
    plain = msg.get_body(preferencelist=("plain",))
    assert html_part is not None and plain is not None
    assert "cid:" not in html_part.get_content()
    assert "The chart was not drawn: the result has 80 rows." in plain.get_content()
    assert "The chart was not drawn: the result has 80 rows." in html_part.get_content()


def test_highlighted_cells_carry_their_inline_style() -> None:
    preview = Preview(["Region", "Units", "Revenue"], PREVIEW, 4, formats=SHOWN)
    page = html_body(ReportBody("Regional sales", "Body", preview, "footer"))
    cells = re.findall(r"<td([^>]*)>([^<]*)</td>", page)
    style = {text: attrs for attrs, text in cells}
    cell = "padding:5px 8px"
    assert style["-€20.25"] == (
        f' align="right" style="text-align:right;{cell};color:#c00000;white-space:nowrap"'
    )
    assert "font-weight:bold" in style["€1,234.50"]
    assert "background-color:#fff2cc" in style["12"]
    assert style["€560.00"] == f' align="right" style="text-align:right;{cell};white-space:nowrap"'
    assert style["North"] == f' align="left" style="text-align:left;{cell}"'  # as before


def test_the_preview_reads_in_the_tasks_locale(tmp_path: Path) -> None:
    built = build_report_message(
        report(tmp_path, locale="de", totals=["Total", "33", "3.984,65\xa0€"]),
        SmtpSettings.from_env({}),
    )
    plain = built.message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "1.234,50\xa0€" in text and "-20,25\xa0€" in text and "3.984,65\xa0€" in text
