"""SMTP failures in words: what smtplib, ssl and socket raise, turned into an
:class:`~src.core.errors.EmailError` that says whether trying again can help and what to
check.

* transient (``permanent=False``): connection refused or reset, timeout, DNS failure,
  the server hanging up, any 4xx reply (421 busy, 451 try later, 454 auth unavailable);
* permanent (``permanent=True``): 5xx replies (550 unknown recipient, 535 bad login),
  a certificate that does not verify, a value SMTP cannot carry, a message too large
  with nothing left to zip or leave off.

A 552 reply (RFC 5321 4.2.2, RFC 1870 6.1) or a 5.3.4 / 5.2.3 status (RFC 3463) means
"too large" (:func:`too_large`), not a refused sender.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl

from src.core.errors import EmailError
from src.services.mail.settings import SmtpSettings

#: RFC 3463 statuses that mean "message too big": 5.3.4 (for the system), 5.2.3
#: (over the mailbox's administrative limit).
_TOO_BIG_STATUS = re.compile(r"^\s*5\.(3\.4|2\.3)\b")


def timed_out(exc: BaseException) -> bool:
    # smtplib reports a read timeout as "Connection unexpectedly closed: timed out".
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def too_large(exc: smtplib.SMTPResponseException) -> bool:
    """A refusal of MAIL FROM or of the message that means "too large": 552 (RFC 5321
    4.2.2 "exceeded storage allocation", RFC 1870 6.1) or a 5.3.4 / 5.2.3 status."""
    if exc.smtp_code == 552:
        return True
    return exc.smtp_code >= 500 and bool(_TOO_BIG_STATUS.match(text(exc.smtp_error)))


def text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def reply(code: int, msg: bytes | str) -> str:
    return f"{code} {text(msg)}".strip()


def translate(exc: OSError, settings: SmtpSettings, stage: str) -> EmailError:
    """Turn what smtplib / ssl / socket raised into an EmailError saying what to check."""
    where = f"SMTP server {settings.host}:{settings.port}"
    # Order matters: SMTP exceptions and SSL errors are OSErrors too.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = {a: (c, text(m)) for a, (c, m) in exc.recipients.items()}
        permanent = any(c >= 500 for c, _ in refusals.values())
        listed = "; ".join(f"{a}: {c} {m}" for a, (c, m) in refusals.items())
        hint = (
            "check the addresses in the task's email.to / cc / bcc"
            if permanent
            else "the server asks to try again later"
        )
        return EmailError(
            f"{where} refused every recipient ({listed}); {hint}", permanent=permanent
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return EmailError(
            f"{where} refused the login (authentication failed) for user {settings.user!r}: "
            f"{reply(exc.smtp_code, exc.smtp_error)}; check SMTP_USER and SMTP_PASSWORD",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError) and too_large(exc):
        return EmailError(
            f"{where} refused the message as too large: {reply(exc.smtp_code, exc.smtp_error)}"
            "; it has no attachments left to zip or leave off, so shorten the body template "
            "or ask the server's administrator for a higher limit",
            permanent=True,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return EmailError(
            f"{where} refused the sender {text(exc.sender)}: "
            f"{reply(exc.smtp_code, exc.smtp_error)}; check SMTP_FROM (many servers only "
            "accept the address of the login user)",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {
            "connect": "answered the connection with",
            "EHLO": "refused EHLO with",
            "STARTTLS": "refused STARTTLS with",
            "send": "refused the message with",
        }.get(stage, f"answered {stage} with")
        permanent = exc.smtp_code >= 500
        hint = (
            "the server says the message cannot be accepted; see its answer"
            if permanent
            else "the server is busy or asks to try again later"
        )
        return EmailError(
            f"{where} {what} {reply(exc.smtp_code, exc.smtp_error)}; {hint}", permanent=permanent
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(
        exc.__context__, TimeoutError
    ):
        # smtplib reports a read timeout as "Connection unexpectedly closed: timed out".
        exc = exc.__context__
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return EmailError(
            f"{where} closed the connection during {stage}: {exc}; it may be restarting or "
            "overloaded",
            permanent=False,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return EmailError(f"{where} does not support what {stage} needs: {exc}", permanent=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return EmailError(
            f"the TLS certificate of {where} could not be verified: "
            f"{exc.verify_message or exc}; if the server uses a private CA, set SMTP_CA_FILE "
            "to that CA's certificate (PEM); check SMTP_HOST is the name in the certificate",
            permanent=True,
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return EmailError(f"{where} closed the TLS connection during {stage}: {exc}")
    if isinstance(exc, ssl.SSLError):
        return EmailError(
            f"TLS with {where} failed during {stage}: {exc}; check SMTP_SECURITY matches the "
            "port (ssl for 465, starttls for 587, none for 25)",
            permanent=True,
        )
    if isinstance(exc, socket.gaierror):
        return EmailError(
            f"cannot resolve SMTP_HOST {settings.host!r}: {exc}; check the host name",
            permanent=False,
        )
    if isinstance(exc, TimeoutError):
        return EmailError(
            f"{where} did not answer within {settings.timeout:g} s (SMTP_TIMEOUT) during "
            f"{stage}; check SMTP_HOST, SMTP_PORT and the network",
            permanent=False,
        )
    if isinstance(exc, ConnectionRefusedError):
        return EmailError(
            f"cannot connect to {where}: connection refused; check SMTP_HOST and SMTP_PORT "
            "and that the mail server is running",
            permanent=False,
        )
    if isinstance(exc, smtplib.SMTPException):
        return EmailError(f"{where} failed during {stage}: {exc}", permanent=True)
    return EmailError(
        f"network error talking to {where} during {stage}: {exc}; check SMTP_HOST, "
        "SMTP_PORT and the network",
        permanent=False,
    )
