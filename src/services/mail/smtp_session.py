"""One SMTP session: connect, EHLO, STARTTLS and log in as the settings say, and close.

Login: one AUTH, with the best mechanism the server offers (PLAIN, else LOGIN), the
user and password in UTF-8 (RFC 4616, RFC 4954); smtplib's ``login`` is not used as
it encodes them as ASCII and, on a refusal, tries the next mechanism: two failed
logins per attempt, which counts double towards a lock-out.

A port that speaks TLS from the first byte, reached with starttls or none, sends no
greeting: it is probed (:func:`_speaks_tls`) so the error names ``SMTP_SECURITY=ssl``
instead of a retried timeout. Sending and the size rules are in
:mod:`src.services.mail.transport`; the failures' wording in
:mod:`src.services.mail.smtp_errors`.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl

from src.core.errors import EmailError
from src.services.mail.settings import SmtpSettings
from src.services.mail.smtp_errors import timed_out

#: The mechanisms tried, best first; one of them, once (see the module docstring).
AUTH_MECHANISMS = ("PLAIN", "LOGIN")


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Verifying context: the system's CAs, plus ``SMTP_CA_FILE`` for a private CA.

    There is deliberately no setting to turn verification off.
    """
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(settings.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise EmailError(
                f"cannot load SMTP_CA_FILE {settings.ca_file}: {exc}; give a PEM certificate",
                permanent=True,
            ) from None
    return context


def open_session(settings: SmtpSettings, stage: list[str]) -> smtplib.SMTP:
    """Connect, EHLO, STARTTLS and log in as the settings say; ``stage[0]`` follows."""
    assert settings.host is not None
    where = f"{settings.host}:{settings.port}"
    stage[0] = "connect"
    if settings.security == "ssl":
        stage[0] = "connect (TLS)"
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            local_hostname=settings.helo_name,
            timeout=settings.timeout,
            context=tls_context(settings),
        )
    else:
        try:
            smtp = smtplib.SMTP(
                settings.host,
                settings.port,
                local_hostname=settings.helo_name,
                timeout=settings.timeout,
            )
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            if timed_out(exc) and _speaks_tls(settings):
                raise EmailError(
                    f"SMTP server {where} sent no greeting and answers in TLS: this port "
                    "expects TLS from the first byte (implicit TLS, usually port 465); set "
                    f"SMTP_SECURITY=ssl (it is {settings.security})",
                    permanent=True,
                ) from None
            raise
    try:
        stage[0] = "EHLO"
        smtp.ehlo()
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise EmailError(
                    f"SMTP server {where} does not offer STARTTLS; use SMTP_SECURITY=ssl if "
                    "it expects TLS from the start (port 465), or SMTP_SECURITY=none only on "
                    "a trusted network",
                    permanent=True,
                )
            stage[0] = "STARTTLS"
            smtp.starttls(context=tls_context(settings))
            smtp.ehlo()
        if settings.user:
            stage[0] = "login"
            _login(smtp, settings, where)
    except BaseException:
        close_session(smtp)
        raise
    return smtp


def _login(smtp: smtplib.SMTP, settings: SmtpSettings, where: str) -> None:
    """One AUTH with the best mechanism offered, credentials in UTF-8 (RFC 4954, 4616)."""
    if not smtp.has_extn("auth"):
        raise EmailError(
            f"SMTP server {where} does not offer AUTH (login) "
            f"with SMTP_SECURITY={settings.security}; most servers offer it only "
            "over TLS (starttls or ssl), or leave SMTP_USER empty if the server "
            "takes mail without login",
            permanent=True,
        )
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in AUTH_MECHANISMS if m in offered), None)
    if mechanism is None:
        raise EmailError(
            f"SMTP server {where} offers login by {', '.join(offered) or 'no method'} only; "
            f"db-scheduler logs in with {' or '.join(AUTH_MECHANISMS)}: ask for one of them",
            permanent=True,
        )
    user = (settings.user or "").encode("utf-8")
    password = (settings.password or "").encode("utf-8")
    if mechanism == "PLAIN":
        # authzid (empty: act as the login user) NUL authcid NUL passwd, sent as the
        # initial response (RFC 4954 4) so the password goes in one command.
        code, reply = smtp.docmd("AUTH", "PLAIN " + _b64(b"\0" + user + b"\0" + password))
    else:
        code, reply = smtp.docmd("AUTH", "LOGIN " + _b64(user))
        if code == 334:
            code, reply = smtp.docmd(_b64(password))
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _speaks_tls(settings: SmtpSettings) -> bool:
    """Whether the port completes a TLS handshake: a server that sent no greeting may be
    an implicit-TLS one waiting for our TLS hello. Only the handshake is made -- nothing
    is sent over it -- so the certificate is not checked here (a real send checks it)."""
    assert settings.host is not None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(
                (settings.host, settings.port), timeout=min(settings.timeout, 5.0)
            ) as sock,
            context.wrap_socket(sock, server_hostname=settings.host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def close_session(smtp: smtplib.SMTP) -> None:
    # The outcome is already decided (sent, or an error is on its way); a failing QUIT
    # must not turn a delivered message into a failure, so its errors are ignored.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
