"""Building report messages and writing them to the outbox (no SMTP server needed).

Each message is read back with the standard parser (``BytesParser(policy=default)``),
the way a mail client would read it.
"""

from __future__ import annotations

import base64
import io
import os
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

import pytest

from src.core.email_rules import format_size
from src.core.errors import EmailError, ValidationError
from src.services.mail import (
    ATTACHED,
    LEFT_OFF,
    NO_ATTACHMENTS,
    ZIPPED,
    ReportEmail,
    SmtpSettings,
    build_report_message,
    send,
)
from src.services.mail.message import encoded_size, message_size
from tests.services.mail.test_report_html import read_markup

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(data))


def bodies(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    # The message is stored and sent with CRLF line ends (RFC 5322); text parts keep them.
    return (
        str(plain.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )


def attachments(msg: EmailMessage) -> dict[str, tuple[str, bytes]]:
    return {
        str(part.get_filename()): (part.get_content_type(), part.get_payload(decode=True))
        for part in msg.iter_attachments()
    }


@pytest.fixture
def exports(tmp_path: Path) -> list[Path]:
    """Three export files; random bytes so that zipping cannot shrink them."""
    folder = tmp_path / "run-1"
    folder.mkdir()
    files = {
        "report.xlsx": os.urandom(30_000),
        "report.pdf": b"%PDF-1.4\n" + os.urandom(20_000),
        "Umsätze März.csv": "id;name\r\n1;Müller\r\n".encode() * 500,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


Factory = Callable[..., ReportEmail]


@pytest.fixture
def report(exports: list[Path]) -> Factory:
    def make(**overrides: Any) -> ReportEmail:
        fields: dict[str, Any] = {
            "task_name": "Daily sales",
            "to": ["Anna <anna@example.com>", "bob@example.com"],
            "cc": ["carol@example.com"],
            "bcc": ["hidden@example.com"],
            "subject": "{task_name}: {row_count} rows on {run_date:%d.%m.%Y}",
            "body": "Hello,\n\nthe report took {duration}.\nRun {run_id}.",
            "variables": {"run_date": date(2026, 3, 4), "run_id": "r-42"},
            "row_count": 25,
            "duration": 3.21,
            "columns": ["id", "comment"],
            "preview_rows": [(i, f"<script>alert({i})</script> & co") for i in range(25)],
            "attachments": exports,
        }
        fields.update(overrides)
        return ReportEmail(**fields)

    return make


def outbox_settings(tmp_path: Path, **env: str) -> SmtpSettings:
    return SmtpSettings.from_env(env, base_dir=tmp_path)


def test_outbox_default_writes_a_complete_parseable_eml(
    tmp_path: Path, report: Factory, exports: list[Path]
) -> None:
    settings = outbox_settings(tmp_path, SMTP_FROM="Reports <reports@example.com>")
    built = build_report_message(report(), settings, now=NOW)
    delivery = send(settings, built, now=NOW)

    assert delivery.outbox_path is not None
    assert delivery.outbox_path.parent == tmp_path / "outbox"
    assert delivery.outbox_path.name.startswith("20260304T050607Z_Daily_sales_")
    assert delivery.outbox_path.suffix == ".eml"
    assert "message written to" in delivery.describe()
    assert stat.S_IMODE(delivery.outbox_path.stat().st_mode) == 0o640
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [delivery.outbox_path.name]

    data = delivery.outbox_path.read_bytes()
    assert delivery.size_bytes == len(data) == built.size_bytes
    msg = parse(data)
    assert msg["Subject"] == "Daily sales: 25 rows on 04.03.2026"
    assert msg["From"] == "Reports <reports@example.com>"
    assert msg["To"] == "Anna <anna@example.com>, bob@example.com"
    assert msg["Cc"] == "carol@example.com"
    assert msg["Bcc"] is None
    assert b"hidden@example.com" not in data
    assert delivery.recipients == [
        "anna@example.com",
        "bob@example.com",
        "carol@example.com",
        "hidden@example.com",
    ]
    assert msg["Message-ID"].endswith("@example.com>")
    assert delivery.message_id == msg["Message-ID"]
    assert msg["Date"].datetime == NOW
    assert msg.get_content_type() == "multipart/mixed"

    plain, html = bodies(msg)
    assert "the report took 3.2 s.\nRun r-42." in plain
    assert "The first 20 of 25 rows:" in plain and "… and 5 more rows." in plain
    assert "19 " in plain and "\n20 " not in plain
    assert "Hello," in read_markup(html).texts
    assert "&lt;script&gt;alert(0)&lt;/script&gt; &amp; co" in html
    assert "<script>" not in html
    assert html.count("<tr valign") == 20
    assert "… and 5 more rows." in html

    assert delivery.attachments_mode == ATTACHED
    got = attachments(msg)
    assert got == {
        "report.xlsx": (XLSX, exports[0].read_bytes()),
        "report.pdf": ("application/pdf", exports[1].read_bytes()),
        "Umsätze März.csv": ("text/csv", exports[2].read_bytes()),
    }
    assert b"filename*=utf-8''Ums%C3%A4tze%20M%C3%A4rz.csv" in data  # RFC 2231


def test_both_parts_name_the_report_and_list_the_files_with_their_sizes(
    tmp_path: Path, report: Factory, exports: list[Path]
) -> None:
    from zoneinfo import ZoneInfo

    run_time = datetime(2026, 3, 4, 8, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    variables = {"run_date": date(2026, 3, 4), "run_id": "r-42", "run_time": run_time}
    built = build_report_message(
        report(description="Sales per day & region", variables=variables),
        outbox_settings(tmp_path),
        now=NOW,
    )
    plain, html = bodies(built.message)
    sizes = [f"{p.name}, {format_size(p.stat().st_size)}" for p in exports]
    assert sizes[0] == "report.xlsx, 29.3 KB"
    assert plain.startswith(
        "Daily sales\n===========\nSales per day & region\nRun of 2026-03-04 08:00 CET\n"
    )
    assert "Attached files:\n" + "".join(f"  {s}\n" for s in sizes) in plain
    markup = read_markup(html)
    assert [c.text for r in markup.rows["attachments"] for c in r] == sizes
    assert "<h1" in html and "Daily sales" in markup.texts
    assert "Sales per day & region" in markup.texts
    assert "Run of 2026-03-04 08:00 CET" in markup.texts
    assert "Rows" in markup.texts and "25" in markup.texts  # the key figure


def test_message_without_rows_or_attachments_says_so(tmp_path: Path, report: Factory) -> None:
    settings = outbox_settings(tmp_path)
    built = build_report_message(
        report(row_count=0, preview_rows=[], attachments=[], cc=[], bcc=[]), settings, now=NOW
    )
    assert built.attachments_mode == NO_ATTACHMENTS
    plain, html = bodies(built.message)
    assert "The query returned no rows." in plain and "The query returned no rows." in html
    assert "preview" not in read_markup(html).rows
    assert built.message["Message-ID"].endswith("@localhost>")


def test_only_bcc_recipients_are_not_disclosed(tmp_path: Path, report: Factory) -> None:
    built = build_report_message(
        report(to=[], cc=[], bcc=["a@example.com", "A@example.com", "b@example.com"]),
        outbox_settings(tmp_path),
    )
    data = built.message.as_bytes()
    assert built.recipients == ["a@example.com", "b@example.com"]
    assert b"a@example.com" not in data and b"b@example.com" not in data
    assert str(built.message["To"]) == "undisclosed-recipients:;"


def test_over_the_limit_attachments_are_zipped(
    tmp_path: Path, report: Factory, exports: list[Path]
) -> None:
    raw = sum(p.stat().st_size for p in exports)
    # Attached as they are: > raw * 4/3. Zipped: the csv compresses well, so it fits.
    settings = outbox_settings(tmp_path, EMAIL_MAX_BYTES=str(raw + 30_000))
    built = build_report_message(report(), settings)
    delivery = send(settings, built)

    assert delivery.attachments_mode == ZIPPED
    assert delivery.size_bytes <= settings.max_bytes
    assert delivery.outbox_path is not None
    msg = parse(delivery.outbox_path.read_bytes())
    got = attachments(msg)
    assert list(got) == ["Daily_sales.zip"]
    content_type, data = got["Daily_sales.zip"]
    assert content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {i.filename: i.compress_type for i in zf.infolist()} == {
            p.name: zipfile.ZIP_DEFLATED for p in exports
        }
        for path in exports:
            assert zf.read(path.name) == path.read_bytes()
    assert (exports[0].parent / "Daily_sales.zip").read_bytes() == data  # kept with the run
    plain, html = bodies(msg)
    for text in (plain, html):
        assert "compressed into Daily_sales.zip" in text
    zipped = f"Daily_sales.zip, {format_size(len(data))}"
    assert f"Attached files:\n  {zipped}\n" in plain
    assert [c.text for r in read_markup(html).rows["attachments"] for c in r] == [zipped]


def test_still_over_the_limit_attachments_are_left_off_and_listed(
    tmp_path: Path, report: Factory, exports: list[Path]
) -> None:
    settings = outbox_settings(tmp_path, EMAIL_MAX_BYTES="20KB")
    built = build_report_message(report(), settings, server_name="reports01")
    delivery = send(settings, built)

    assert delivery.attachments_mode == LEFT_OFF
    assert delivery.left_off == exports
    assert delivery.size_bytes <= 20 * 1024
    assert not (exports[0].parent / "Daily_sales.zip").exists()
    assert delivery.outbox_path is not None
    msg = parse(delivery.outbox_path.read_bytes())
    assert attachments(msg) == {}
    plain, html = bodies(msg)
    assert "left off" in plain and "left off" in html
    assert "server reports01" in plain
    for path in exports:
        assert str(path.resolve()) in plain
        assert str(path.resolve()) in html
    # Never an empty or shortened report: the preview is still there.
    assert "The first 20 of 25 rows:" in plain and "&lt;script&gt;" in html
    assert "Attached files" not in plain + html  # the note lists them, with where they are


def test_message_that_cannot_fit_even_bare_is_an_error(tmp_path: Path, report: Factory) -> None:
    rows = [(i, "x" * 190) for i in range(20)]
    settings = outbox_settings(tmp_path, EMAIL_MAX_BYTES="2KB")
    with pytest.raises(EmailError) as info:
        build_report_message(report(preview_rows=rows, attachments=[]), settings)
    assert info.value.permanent
    assert "EMAIL_MAX_BYTES" in str(info.value)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 56, 57, 58, 1000, 65_536])
def test_encoded_size_is_exact(size: int) -> None:
    msg = EmailMessage()
    msg.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream")
    part = next(msg.iter_attachments())
    payload = part.get_payload().replace("\n", "\r\n")
    assert len(payload) == encoded_size(size)
    assert base64.b64decode(payload) is not None


def test_measured_size_matches_wire_size(tmp_path: Path, report: Factory) -> None:
    built = build_report_message(report(), outbox_settings(tmp_path))
    wire = built.message.as_bytes(policy=built.message.policy.clone(linesep="\r\n"))
    assert built.size_bytes == message_size(built.message) == len(wire)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "Report\r\nBcc: victim@example.com"}, "email.subject"),
        ({"subject": "{task_name}", "task_name": "x\nBcc: victim@example.com"}, "email.subject"),
        ({"to": ["a@example.com\r\nBcc: victim@example.com"]}, "email.to[0]"),
        ({"cc": ["ok@example.com", "b@example.com\nX-Evil: 1"]}, "email.cc[1]"),
        ({"bcc": ["not an address"]}, "email.bcc[0]"),
        ({"subject": "{unknown}"}, "email.subject"),
        ({"body": "{run_date.year}"}, "email.body"),
    ],
)
def test_header_injection_and_bad_templates_are_refused(
    tmp_path: Path, report: Factory, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        build_report_message(report(**overrides), outbox_settings(tmp_path))
    assert info.value.field == field
    assert not (tmp_path / "outbox").exists()


def test_missing_attachment_is_a_permanent_error(tmp_path: Path, report: Factory) -> None:
    with pytest.raises(EmailError) as info:
        build_report_message(
            report(attachments=[tmp_path / "gone.xlsx"]), outbox_settings(tmp_path)
        )
    assert info.value.permanent
    assert "gone.xlsx" in str(info.value)


def test_no_recipients_is_a_permanent_error(tmp_path: Path, report: Factory) -> None:
    with pytest.raises(EmailError, match="no recipients"):
        build_report_message(report(to=[], cc=[], bcc=[]), outbox_settings(tmp_path))


def test_unwritable_outbox_is_a_permanent_error(tmp_path: Path, report: Factory) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the outbox folder should be")
    settings = outbox_settings(tmp_path, OUTBOX_DIR=str(blocker / "outbox"))
    built = build_report_message(report(attachments=[]), settings)
    with pytest.raises(EmailError) as info:
        send(settings, built)
    assert info.value.permanent
    assert "OUTBOX_DIR" in str(info.value)


def test_text_attachments_say_utf_8_and_binary_ones_no_charset(
    tmp_path: Path, report: Factory
) -> None:
    """A text part without a charset means US-ASCII (RFC 2046 4.1.2): a reader would turn
    "Müller" into mojibake. UTF-8 text files say so; files we cannot read as UTF-8 and
    binary types get no charset."""
    folder = tmp_path / "texts"
    folder.mkdir()
    files = {
        "a.csv": "id;name\r\n1;Müller\r\n".encode(),
        "b.txt": "Grüße\n".encode(),
        "c.csv": "1;M\xfcller\r\n".encode("latin-1"),  # not UTF-8: no claim made
        "d.json": '{"name": "Müller"}'.encode(),  # JSON is UTF-8 by definition: no parameter
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    built = build_report_message(
        report(attachments=[folder / n for n in files]), SmtpSettings(), now=NOW
    )
    types = {
        str(part.get_filename()): (part.get_content_type(), part.get_param("charset"))
        for part in parse(built.data).iter_attachments()
    }
    assert types == {
        "a.csv": ("text/csv", "utf-8"),
        "b.txt": ("text/plain", "utf-8"),
        "c.csv": ("text/csv", None),
        "d.json": ("application/json", None),
    }
    assert attachments(parse(built.data))["a.csv"][1] == files["a.csv"]


def test_preview_numbers_are_right_aligned_in_the_task_zone(
    tmp_path: Path, report: Factory
) -> None:
    from zoneinfo import ZoneInfo

    rows = [("East", 290001.55999999994, datetime(2026, 7, 1, 10, tzinfo=UTC))]
    built = build_report_message(
        report(columns=["region", "revenue", "at"], preview_rows=rows, row_count=1,
               zone=ZoneInfo("Europe/Berlin")),
        outbox_settings(tmp_path), now=NOW,
    )  # fmt: skip
    plain, html = bodies(built.message)
    table = read_markup(html).rows["preview"]
    assert [(c.text, c.align) for c in table[0]][1] == ("revenue", "right")
    assert [(c.text, c.align) for c in table[1]][1] == ("290001.56", "right")
    assert "East   | 290001.56 | 2026-07-01 12:00:00" in plain
    assert "5599999" not in plain + html
