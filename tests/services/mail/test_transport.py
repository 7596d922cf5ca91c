"""Sending over SMTP to real aiosmtpd servers on loopback (see tests/fixtures/smtp.py).

Nothing here mocks smtplib: every case talks to a server that really refuses, asks
for TLS and a login, answers 451, or does not listen at all.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from src.core.errors import EmailError
from src.services.mail import (
    ATTACHED,
    BuiltMessage,
    ReportEmail,
    SmtpSettings,
    build_report_message,
    send,
    send_test_message,
    send_with_retry,
)
from tests.fixtures.smtp import REFUSED_RECIPIENT, SENDER, TEST_USER, Received, SmtpServer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Sleeps:
    """An injected ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def message_for(settings: SmtpSettings, tmp_path: Path, **overrides: Any) -> BuiltMessage:
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(os.urandom(5000))
    fields: dict[str, Any] = {
        "task_name": "Stock levels",
        "to": ["anna@example.com"],
        "cc": ["carol@example.com"],
        "bcc": ["hidden@example.com"],
        "subject": "{task_name} for {run_date:%Y-%m-%d}: {row_count} rows",
        "body": "Stock levels attached.",
        "variables": {"run_date": date(2026, 5, 6)},
        "row_count": 2,
        "columns": ["sku", "note"],
        "preview_rows": [("A-1", "<script>x()</script>"), ("B-2", "ok")],
        "attachments": [xlsx],
    }
    fields.update(overrides)
    return build_report_message(ReportEmail(**fields), settings)


def only(server: SmtpServer) -> Received:
    assert len(server.messages) == 1, server.messages
    return server.messages[0]


def test_report_reaches_the_server_with_bcc_in_the_envelope_only(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = SmtpSettings.from_env(smtp_server.env())
    built = message_for(settings, tmp_path)
    delivery = send(settings, built)

    got = only(smtp_server)
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ["anna@example.com", "carol@example.com", "hidden@example.com"]
    assert b"hidden@example.com" not in got.data
    msg = got.message
    assert msg["To"] == "anna@example.com"
    assert msg["Cc"] == "carol@example.com"
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Stock levels for 2026-05-06: 2 rows"
    assert msg["Message-ID"] == delivery.message_id
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "Stock levels attached." in plain.get_content()
    assert "&lt;script&gt;x()&lt;/script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "report.xlsx"
    assert part.get_content_type() == XLSX
    assert part.get_payload(decode=True) == (tmp_path / "report.xlsx").read_bytes()

    assert delivery.outbox_path is None
    assert delivery.attachments_mode == ATTACHED
    assert delivery.refused == {}
    assert delivery.refused_error() is None
    assert delivery.server == f"127.0.0.1:{smtp_server.port}"
    assert delivery.describe().startswith("sent to anna@example.com, carol@example.com")


def test_starttls_and_login(smtp_tls_server: SmtpServer, tmp_path: Path) -> None:
    settings = SmtpSettings.from_env(smtp_tls_server.env())
    assert (settings.security, settings.user) == ("starttls", TEST_USER)
    send(settings, message_for(settings, tmp_path))
    assert only(smtp_tls_server).login == TEST_USER

    wrong = SmtpSettings.from_env(smtp_tls_server.env(SMTP_PASSWORD="wrong"))
    with pytest.raises(EmailError) as info:
        send(wrong, message_for(wrong, tmp_path))
    assert info.value.permanent
    text = str(info.value)
    assert "authentication failed" in text and "535" in text
    assert "SMTP_USER and SMTP_PASSWORD" in text
    assert smtp_tls_server.handler.logins[-1] == (TEST_USER, False)
    assert len(smtp_tls_server.messages) == 1


def test_unverifiable_certificate_is_a_permanent_error_not_a_silent_downgrade(
    smtp_tls_server: SmtpServer, tmp_path: Path
) -> None:
    env = smtp_tls_server.env()
    del env["SMTP_CA_FILE"]
    settings = SmtpSettings.from_env(env)
    with pytest.raises(EmailError) as info:
        send(settings, message_for(settings, tmp_path))
    assert info.value.permanent
    assert "certificate" in str(info.value) and "SMTP_CA_FILE" in str(info.value)
    assert smtp_tls_server.handler.logins == []
    assert smtp_tls_server.messages == []


def test_login_without_tls_is_refused_with_a_hint(
    smtp_tls_server: SmtpServer, tmp_path: Path
) -> None:
    settings = SmtpSettings.from_env(smtp_tls_server.env(SMTP_SECURITY="none"))
    with pytest.raises(EmailError) as info:
        send(settings, message_for(settings, tmp_path))
    assert info.value.permanent
    assert "does not offer AUTH" in str(info.value)


def test_implicit_tls(smtp_ssl_server: SmtpServer, tmp_path: Path) -> None:
    settings = SmtpSettings.from_env(smtp_ssl_server.env())
    assert settings.security == "ssl"
    send(settings, message_for(settings, tmp_path))
    assert only(smtp_ssl_server).message["Subject"] == "Stock levels for 2026-05-06: 2 rows"


def test_server_down_is_transient(refusing_port: int, tmp_path: Path) -> None:
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(refusing_port), "SMTP_FROM": SENDER}
    settings = SmtpSettings.from_env({**env, "SMTP_SECURITY": "none"})
    with pytest.raises(EmailError) as info:
        send(settings, message_for(settings, tmp_path))
    assert not info.value.permanent
    assert "connection refused" in str(info.value)
    assert f"127.0.0.1:{refusing_port}" in str(info.value)


def test_silent_server_times_out_as_transient(silent_port: int, tmp_path: Path) -> None:
    settings = SmtpSettings.from_env(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(silent_port),
            "SMTP_SECURITY": "none",
            "SMTP_FROM": SENDER,
            "SMTP_TIMEOUT": "0.3",
        }
    )
    with pytest.raises(EmailError) as info:
        send(settings, message_for(settings, tmp_path))
    assert not info.value.permanent
    assert "did not answer within 0.3 s (SMTP_TIMEOUT)" in str(info.value)


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "421 4.7.0 Too busy"])
def test_temporary_refusal_is_retried_then_delivered(
    smtp_server_factory: Any, tmp_path: Path, reply: str
) -> None:
    server: SmtpServer = smtp_server_factory(data_replies=[reply])
    settings = SmtpSettings.from_env(server.env(SMTP_SECURITY="none"))
    built = message_for(settings, tmp_path)

    with pytest.raises(EmailError) as info:
        send(settings, built)
    assert not info.value.permanent
    assert reply.split()[0] in str(info.value)

    server.handler.data_replies.append(reply)  # fail once more, then accept
    sleeps = Sleeps()
    delivery = send_with_retry(settings, built, attempts=3, delay=5, backoff=2, sleep=sleeps)
    assert sleeps.delays == [5]
    assert delivery.attempts == 2
    assert server.handler.data_calls == 3
    assert only(server).message["Message-ID"] == delivery.message_id


def test_retry_gives_up_with_exponential_backoff(refusing_port: int, tmp_path: Path) -> None:
    settings = SmtpSettings.from_env(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(refusing_port), "SMTP_SECURITY": "none",
         "SMTP_FROM": SENDER}
    )  # fmt: skip
    sleeps = Sleeps()
    with pytest.raises(EmailError) as info:
        send_with_retry(
            settings, message_for(settings, tmp_path), attempts=4, delay=1, backoff=3, sleep=sleeps
        )
    assert sleeps.delays == [1, 3, 9]
    assert not info.value.permanent
    assert "gave up after 4 attempts" in str(info.value)


def test_refused_only_recipient_is_permanent_and_named(
    smtp_refusing_server: SmtpServer, tmp_path: Path
) -> None:
    settings = SmtpSettings.from_env(smtp_refusing_server.env())
    built = message_for(settings, tmp_path, to=[REFUSED_RECIPIENT], cc=[], bcc=[])
    sleeps = Sleeps()
    with pytest.raises(EmailError) as info:
        send_with_retry(settings, built, attempts=3, delay=1, sleep=sleeps)
    assert info.value.permanent
    assert sleeps.delays == []  # permanent: not retried
    assert REFUSED_RECIPIENT in str(info.value) and "550" in str(info.value)
    assert "email.to" in str(info.value)
    assert smtp_refusing_server.messages == []


def test_partly_refused_recipients_get_reported_while_others_receive(
    smtp_refusing_server: SmtpServer, tmp_path: Path
) -> None:
    settings = SmtpSettings.from_env(smtp_refusing_server.env())
    built = message_for(settings, tmp_path, to=["anna@example.com"], cc=[REFUSED_RECIPIENT])
    delivery = send_with_retry(settings, built, attempts=3, delay=1, sleep=Sleeps())

    assert only(smtp_refusing_server).rcpt_tos == ["anna@example.com", "hidden@example.com"]
    assert list(delivery.refused) == [REFUSED_RECIPIENT]
    assert delivery.refused[REFUSED_RECIPIENT][0] == 550
    assert delivery.delivered_to == ["anna@example.com", "hidden@example.com"]
    error = delivery.refused_error()
    assert error is not None and error.permanent
    assert REFUSED_RECIPIENT in str(error) and "550" in str(error)
    assert "refused: nobody@example.com" in delivery.describe()


def test_test_message_over_smtp_and_into_the_outbox(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = SmtpSettings.from_env(smtp_server.env(SMTP_SECURITY="none"))
    delivery = send_test_message(settings, "admin@example.com")
    got = only(smtp_server)
    assert got.rcpt_tos == ["admin@example.com"]
    assert got.message["Subject"] == "db-scheduler test message"
    assert f"SMTP 127.0.0.1:{smtp_server.port}" in got.message.get_content()
    assert delivery.outbox_path is None

    outbox = SmtpSettings.from_env({}, base_dir=tmp_path)
    delivery = send_test_message(outbox, "admin@example.com")
    assert delivery.outbox_path is not None
    assert delivery.outbox_path.parent == tmp_path / "outbox"
    assert b"db-scheduler test message" in delivery.outbox_path.read_bytes()


def test_non_ascii_address_is_sent_with_smtputf8(smtp_server: SmtpServer, tmp_path: Path) -> None:
    settings = SmtpSettings.from_env(smtp_server.env())
    built = message_for(settings, tmp_path, to=["jürgen@bücher.example"], cc=[], bcc=[])
    assert built.smtputf8
    send(settings, built)
    got = only(smtp_server)
    assert got.rcpt_tos == ["jürgen@bücher.example"]
    assert got.message["To"] == "jürgen@bücher.example"


def test_permanent_refusal_of_the_message_is_not_retried(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(data_replies=["554 5.6.0 Message rejected"])
    settings = SmtpSettings.from_env(server.env())
    sleeps = Sleeps()
    with pytest.raises(EmailError) as info:
        send_with_retry(settings, message_for(settings, tmp_path), attempts=3, sleep=sleeps)
    assert info.value.permanent
    assert "554 5.6.0 Message rejected" in str(info.value)
    assert sleeps.delays == []
    assert server.handler.data_calls == 1


def test_temporarily_refused_recipient_is_transient(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(
        refuse={"anna@example.com": "450 4.2.1 Mailbox busy, try later"}
    )
    settings = SmtpSettings.from_env(server.env())
    with pytest.raises(EmailError) as info:
        send(settings, message_for(settings, tmp_path, cc=[], bcc=[]))
    assert not info.value.permanent
    assert "anna@example.com: 450 4.2.1 Mailbox busy" in str(info.value)


def test_server_closing_the_connection_during_data_is_transient_and_retried(
    smtp_server_factory: Any, tmp_path: Path
) -> None:
    server: SmtpServer = smtp_server_factory(data_replies=["DISCONNECT"])
    settings = SmtpSettings.from_env(server.env(SMTP_SECURITY="none"))
    built = message_for(settings, tmp_path)
    with pytest.raises(EmailError) as info:
        send(settings, built)
    assert not info.value.permanent
    assert f"127.0.0.1:{server.port}" in str(info.value)
    assert server.messages == []  # nothing was delivered by the cut-off attempt

    server.handler.data_replies.append("DISCONNECT")
    sleeps = Sleeps()
    delivery = send_with_retry(settings, built, attempts=3, delay=5, backoff=2, sleep=sleeps)
    assert (delivery.attempts, sleeps.delays) == (2, [5])
    assert only(server).message["Message-ID"] == delivery.message_id
