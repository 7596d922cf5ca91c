"""Logging in and the TLS mode, against real aiosmtpd servers (tests/fixtures/smtp.py).

UTF-8 credentials (RFC 4616 PLAIN, and LOGIN), one AUTH per attempt, a 535 never
retried, a non-ASCII EHLO name sent as A-labels, and a port that speaks TLS from the
first byte reached with starttls: a permanent error that names the mode it wants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from src.core.errors import EmailError
from src.services.mail import SmtpSettings, send_test_message, send_with_retry
from src.services.mail.message import build_simple_message
from tests.fixtures.smtp import SmtpServer, TlsFiles

PASSWORD = "pässwörd☃"


def login_server(factory: Any, tls_files: TlsFiles, user: str, **options: Any) -> SmtpServer:
    server: SmtpServer = factory(tls=tls_files, users={user: PASSWORD}, **options)
    return server


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_non_ascii_user_and_password_log_in(
    smtp_server_factory: Any, tls_files: TlsFiles, mechanism: str
) -> None:
    server = login_server(smtp_server_factory, tls_files, "jürgen", auth_mechanisms=(mechanism,))
    settings = SmtpSettings.from_env(server.env(SMTP_FROM="reports@example.com"))
    assert settings.password == PASSWORD

    send_test_message(settings, "admin@example.com")

    assert server.handler.logins == [("jürgen", True)]
    (got,) = server.messages
    assert got.login == "jürgen"


def test_wrong_password_is_one_login_and_not_retried(
    smtp_server_factory: Any, tls_files: TlsFiles
) -> None:
    server = login_server(smtp_server_factory, tls_files, "reporter")
    settings = SmtpSettings.from_env(server.env(SMTP_PASSWORD="wrong-pässwort"))
    built = build_simple_message(settings, ["admin@example.com"], "test", "test")
    sleeps: list[float] = []

    with pytest.raises(EmailError) as info:
        send_with_retry(settings, built, attempts=3, delay=1, sleep=sleeps.append)

    assert info.value.permanent
    assert str(info.value) == (
        f"SMTP server 127.0.0.1:{server.port} refused the login (authentication failed) for "
        "user 'reporter': 535 5.7.8 Authentication credentials invalid; check SMTP_USER and "
        "SMTP_PASSWORD"
    )
    assert server.handler.logins == [("reporter", False)]  # PLAIN only, not LOGIN after it
    assert sleeps == []
    assert server.messages == []


def test_non_ascii_helo_name_goes_out_as_a_labels(smtp_server: SmtpServer) -> None:
    settings = SmtpSettings.from_env(smtp_server.env(SMTP_HELO_NAME="berichte.bücher.example"))
    assert settings.helo_name == "berichte.xn--bcher-kva.example"
    send_test_message(settings, "admin@example.com")
    assert smtp_server.handler.helo_names == ["berichte.xn--bcher-kva.example"]


def test_starttls_on_an_implicit_tls_port_is_permanent_and_names_the_mode(
    smtp_ssl_server: SmtpServer,
) -> None:
    # The fixture's port is not 465, so the settings cannot tell: the probe does.
    settings = SmtpSettings.from_env(
        smtp_ssl_server.env(SMTP_SECURITY="starttls", SMTP_TIMEOUT="0.5")
    )
    built = build_simple_message(settings, ["admin@example.com"], "test", "test")
    sleeps: list[float] = []
    with pytest.raises(EmailError) as info:
        send_with_retry(settings, built, attempts=3, delay=1, sleep=sleeps.append)
    assert info.value.permanent
    assert sleeps == []
    assert str(info.value) == (
        f"SMTP server 127.0.0.1:{smtp_ssl_server.port} sent no greeting and answers in TLS: "
        "this port expects TLS from the first byte (implicit TLS, usually port 465); set "
        "SMTP_SECURITY=ssl (it is starttls)"
    )


def test_ssl_on_a_plain_text_port_is_permanent_and_names_the_mode(
    smtp_server: SmtpServer,
) -> None:
    settings = SmtpSettings.from_env(smtp_server.env(SMTP_SECURITY="ssl"))
    with pytest.raises(EmailError) as info:
        send_test_message(settings, "admin@example.com")
    assert info.value.permanent
    text = str(info.value)
    assert text.startswith(f"TLS with SMTP server 127.0.0.1:{smtp_server.port} failed during ")
    assert text.endswith(
        "check SMTP_SECURITY matches the port (ssl for 465, starttls for 587, none for 25)"
    )


def test_silent_port_is_still_transient(silent_port: int, tmp_path: Path) -> None:
    settings = SmtpSettings.from_env(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(silent_port), "SMTP_SECURITY": "starttls",
         "SMTP_FROM": "reports@example.com", "SMTP_TIMEOUT": "0.3"}
    )  # fmt: skip
    with pytest.raises(EmailError) as info:
        send_test_message(settings, "admin@example.com")
    assert not info.value.permanent
    assert "did not answer within 0.3 s (SMTP_TIMEOUT) during connect" in str(info.value)
