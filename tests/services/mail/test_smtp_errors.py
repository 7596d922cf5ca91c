"""What an SMTP failure says: :func:`translate` on the exceptions smtplib, ssl and socket
really raise (made by talking to nothing, or as smtplib builds them from a reply), and
:func:`too_large` against the RFC 3463 / RFC 5321 codes. The whole path, through real
servers, is in test_transport.py, test_transport_size.py and test_smtp_session.py."""

from __future__ import annotations

import smtplib
import socket

import pytest

from src.services.mail.settings import SmtpSettings
from src.services.mail.smtp_errors import too_large, translate


def settings(port: int = 2525, host: str = "127.0.0.1") -> SmtpSettings:
    return SmtpSettings.from_env(
        {
            "SMTP_HOST": host,
            "SMTP_PORT": str(port),
            "SMTP_USER": "ops",
            "SMTP_PASSWORD": "s3cret",
            "SMTP_FROM": "reports@example.com",
            "SMTP_SECURITY": "none",
        }
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (552, b"5.2.2 Mailbox full", True),  # RFC 5321 4.2.2: exceeded storage allocation
        (552, b"Requested mail action aborted", True),
        (554, b"5.3.4 Message too big for system", True),  # RFC 3463
        (550, b"5.2.3 Message length exceeds administrative limit", True),
        (550, b"5.1.1 User unknown", False),
        (451, b"4.3.4 try again later", False),  # a 4xx is never "too large for good"
    ],
)
def test_too_large_follows_the_reply_codes(code: int, text: bytes, expected: bool) -> None:
    assert too_large(smtplib.SMTPDataError(code, text)) is expected


def test_a_refused_connection_is_transient_and_names_host_and_port() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(OSError) as caught:
        socket.create_connection(("127.0.0.1", port), timeout=5)
    error = translate(caught.value, settings(port), "connect")
    assert error.permanent is False
    assert f"127.0.0.1:{port}" in str(error) and "SMTP_HOST and SMTP_PORT" in str(error)


def test_a_refused_login_names_the_user_never_the_password() -> None:
    error = translate(
        smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"),
        settings(),
        "login",
    )
    assert error.permanent is True
    assert "'ops'" in str(error) and "SMTP_PASSWORD" in str(error)
    assert "s3cret" not in str(error)


def test_a_4xx_login_refusal_is_transient() -> None:
    error = translate(
        smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary authentication failure"),
        settings(),
        "login",
    )
    assert error.permanent is False


def test_every_recipient_refused_lists_each_with_its_answer() -> None:
    refused = {
        "a@example.com": (550, b"5.1.1 unknown"),
        "b@example.com": (450, b"4.2.1 try later"),
    }
    error = translate(smtplib.SMTPRecipientsRefused(refused), settings(), "send")
    assert error.permanent is True  # one 5xx: trying again cannot help that one
    assert "a@example.com: 550 5.1.1 unknown" in str(error)
    assert "b@example.com: 450 4.2.1 try later" in str(error)


def test_too_large_with_nothing_left_says_what_to_do_not_check_smtp_from() -> None:
    error = translate(
        smtplib.SMTPSenderRefused(552, b"5.3.4 too big", "reports@example.com"),
        settings(),
        "send",
    )
    assert error.permanent is True
    assert "too large" in str(error) and "SMTP_FROM" not in str(error)


def test_an_unknown_host_is_transient_and_says_to_check_the_name() -> None:
    with pytest.raises(socket.gaierror) as caught:
        socket.getaddrinfo("no-such-host.invalid", 25)
    error = translate(caught.value, settings(host="no-such-host.invalid"), "connect")
    assert error.permanent is False and "check the host name" in str(error)
