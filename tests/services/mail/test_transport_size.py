"""The server's size limit, against real aiosmtpd servers (tests/fixtures/smtp.py).

A limit announced in EHLO (``SIZE``, RFC 1870) is applied before MAIL FROM; a limit the
server does not announce shows as ``552 5.3.4`` (Postfix's words) at MAIL FROM or at the
end of DATA. Either way the report goes out smaller -- zipped, or with the files left
off and a note -- in the same run, on the same connection, and the delivery says why.
"""

from __future__ import annotations

import os
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from src.core.errors import EmailError
from src.services.mail import (
    ATTACHED,
    LEFT_OFF,
    ZIPPED,
    BuiltMessage,
    ReportEmail,
    SmtpSettings,
    build_report_message,
    send,
    send_test_message,
    send_with_retry,
)
from src.services.mail.transport import SIZE_MARGIN
from tests.fixtures.smtp import TOO_BIG_REPLY, Received, SmtpServer

#: Compresses about 100:1, so zipping is enough.
CSV_TEXT = "id;name;amount\r\n" + "".join(f"{i};Müller {i % 7};{i * 3}.50\r\n" for i in range(9000))


def report(tmp_path: Path, *, compressible: bool, mixed: bool = False) -> BuiltMessage:
    """A report with a CSV (zips 100:1) or random bytes (does not zip), or both."""
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    paths = []
    if compressible or mixed:
        paths.append(folder / "sales.csv")
        paths[-1].write_bytes(CSV_TEXT.encode())
    if not compressible or mixed:
        paths.append(folder / "sales.xlsx")
        paths[-1].write_bytes(os.urandom(150_000))
    settings = SmtpSettings()
    return build_report_message(
        ReportEmail(
            task_name="Sales",
            to=["anna@example.com"],
            subject="Sales",
            body="Sales.",
            attachments=paths,
        ),
        settings,
        server_name="reports-host",
    )


def settings_for(server: SmtpServer) -> SmtpSettings:
    return SmtpSettings.from_env(server.env())


def only(server: SmtpServer) -> Received:
    assert len(server.messages) == 1, server.messages
    return server.messages[0]


def attachment_names(got: Received) -> list[str]:
    return [str(p.get_filename()) for p in got.message.iter_attachments()]


def test_announced_size_zips_before_mail_from(smtp_server_factory: Any, tmp_path: Path) -> None:
    server: SmtpServer = smtp_server_factory(size_limit=200_000)
    built = report(tmp_path, compressible=True)
    assert built.attachments_mode == ATTACHED and built.size_bytes > 200_000

    delivery = send(settings_for(server), built)

    got = only(server)
    assert attachment_names(got) == ["Sales.zip"]
    zipped = next(got.message.iter_attachments()).get_payload(decode=True)
    assert zipfile.ZipFile(BytesIO(zipped)).read("sales.csv") == CSV_TEXT.encode()
    assert server.handler.data_calls == 1  # fitted before sending: nothing refused
    assert server.handler.mail_sizes == [len(got.data)]
    assert got.message["Message-ID"] == built.message_id  # the same report, smaller
    assert delivery.attachments_mode == ZIPPED
    assert delivery.size_reason.startswith("with the files attached the message is ")
    assert delivery.size_reason.endswith(", over the mail server's size limit (195.3 KB)")
    assert delivery.describe() == (
        f"sent to anna@example.com via 127.0.0.1:{server.port}; attachments zipped into "
        f"Sales.zip ({delivery.size_reason})"
    )
    plain = got.message.get_body(preferencelist=("plain",))
    assert plain is not None
    assert (
        "The attachments were compressed into Sales.zip to stay under the mail server's "
        "size limit (195.3 KB)." in plain.get_content()
    )


def test_announced_size_leaves_incompressible_files_off_with_a_note(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(size_limit=100_000)
    built = report(tmp_path, compressible=False)

    delivery = send(settings_for(server), built)

    got = only(server)
    assert attachment_names(got) == []
    assert server.handler.data_calls == 1
    assert delivery.attachments_mode == LEFT_OFF
    assert delivery.left_off == [tmp_path / "run" / "sales.xlsx"]
    assert delivery.size_reason.startswith("even zipped the files make the message ")
    assert delivery.size_reason.endswith(", over the mail server's size limit (97.7 KB)")
    assert delivery.describe().endswith(
        f"; attachments left off, the message says where they are kept ({delivery.size_reason})"
    )
    plain = got.message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content().replace("\r\n", "\n")
    assert "over the mail server's size limit (97.7 KB). They were left off" in text
    assert f"{(tmp_path / 'run' / 'sales.xlsx').resolve()} (146.5 KB)" in text


def test_the_margin_below_the_announced_size(smtp_server_factory: Any, tmp_path: Path) -> None:
    """A message that fits the announced SIZE but not SIZE less the margin is zipped."""
    built = report(tmp_path, compressible=True)
    limit = built.size_bytes + SIZE_MARGIN // 2
    server: SmtpServer = smtp_server_factory(size_limit=limit)
    assert send(settings_for(server), built).attachments_mode == ZIPPED
    roomy: SmtpServer = smtp_server_factory(size_limit=built.size_bytes + SIZE_MARGIN)
    assert send(settings_for(roomy), built).attachments_mode == ATTACHED


def test_552_at_the_end_of_data_zips_then_leaves_off_on_one_connection(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(data_limit=60_000)  # not announced
    built = report(tmp_path, compressible=False, mixed=True)
    sleeps: list[float] = []

    delivery = send_with_retry(settings_for(server), built, attempts=3, sleep=sleeps.append)

    handler = server.handler
    assert handler.data_calls == 3  # attached: 552; zipped: 552; left off: accepted
    assert handler.data_sizes[0] == built.size_bytes
    assert handler.data_sizes[0] > handler.data_sizes[1] > 60_000 > handler.data_sizes[2]
    assert len(set(handler.data_peers)) == 1  # one connection
    assert (sleeps, delivery.attempts) == ([], 1)  # not a retry: the same attempt
    assert attachment_names(only(server)) == []
    assert delivery.attachments_mode == LEFT_OFF
    assert delivery.size_reason.endswith(
        f"over the mail server's size limit (it refused a {_kb(handler.data_sizes[1])} "
        f"message: {TOO_BIG_REPLY})"
    )
    assert "SMTP_FROM" not in delivery.describe()


def test_552_at_mail_from_is_too_large_not_a_refused_sender(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(mail_limit=100_000)  # not announced
    built = report(tmp_path, compressible=True)

    delivery = send(settings_for(server), built)

    handler = server.handler
    assert len(handler.mail_sizes) == 2 and handler.mail_sizes[0] == built.size_bytes
    assert handler.data_calls == 1  # the refused size was never transmitted
    assert attachment_names(only(server)) == ["Sales.zip"]
    assert delivery.attachments_mode == ZIPPED
    assert delivery.size_reason.endswith(
        f"over the mail server's size limit (it refused a {_kb(built.size_bytes)} "
        f"message: {TOO_BIG_REPLY})"
    )


@pytest.mark.parametrize("where", ["mail_limit", "data_limit"])
def test_too_large_with_nothing_left_to_drop_is_permanent_and_says_so(
    smtp_server_factory: Any, where: str
) -> None:
    server: SmtpServer = smtp_server_factory(**{where: 100})
    with pytest.raises(EmailError) as info:
        send_test_message(settings_for(server), "admin@example.com")
    assert info.value.permanent
    assert str(info.value) == (
        f"SMTP server 127.0.0.1:{server.port} refused the message as too large: "
        f"{TOO_BIG_REPLY}; it has no attachments left to zip or leave off, so shorten the "
        "body template or ask the server's administrator for a higher limit"
    )


def test_a_report_that_cannot_fit_the_announced_size_at_all(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(size_limit=1024)
    built = report(tmp_path, compressible=False)
    with pytest.raises(EmailError) as info:
        send(settings_for(server), built)
    assert info.value.permanent
    assert str(info.value).startswith("the message for task 'Sales' is ")
    assert str(info.value).endswith(
        " without attachments, over the mail server's size limit (1.0 KB); shorten the "
        "body template"
    )
    assert server.handler.mail_sizes == []  # decided before MAIL FROM


def test_aiosmtpd_own_552_at_mail_from_is_understood(smtp_server_factory: Any) -> None:
    """aiosmtpd words its 552 unlike Postfix; a message that cannot shrink (a test
    message) over the announced SIZE gets it at MAIL FROM, from smtplib's ``SIZE=``."""
    server: SmtpServer = smtp_server_factory(size_limit=300)
    with pytest.raises(EmailError) as info:
        send_test_message(settings_for(server), "admin@example.com")
    assert info.value.permanent
    assert str(info.value).startswith(
        f"SMTP server 127.0.0.1:{server.port} refused the message as too large: 552 Error: "
        "message size exceeds fixed maximum message size; "
    )


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"
