"""Send a built message over SMTP, or write it to the outbox folder when no server is set.

Every failure becomes an ``EmailError`` whose ``permanent`` flag says whether trying
again can help, with the server's code and text and what to check:

* transient (``permanent=False``): connection refused or reset, timeout, DNS failure,
  the server hanging up, any 4xx reply (421 busy, 451 try later, 454 auth unavailable);
* permanent (``permanent=True``): 5xx replies (550 unknown recipient, 535 bad login),
  a certificate that does not verify, a server that lacks STARTTLS or AUTH when the
  settings need it, a port that speaks TLS from the first byte reached with starttls
  or none (it sends no greeting: probed, see ``_speaks_tls``), a value SMTP cannot carry.

Size: the ``SIZE`` a server announces in EHLO (RFC 1870), less ``SIZE_MARGIN`` for the
headers servers add on the way, caps the message below ``EMAIL_MAX_BYTES``; a report
over it is built again (attach -> zip -> leave off with a note) before MAIL FROM. A 552
answer to MAIL FROM or at the end of DATA (or a 5.3.4 / 5.2.3 status: "message too
big", RFC 3463) means too large, not a refused sender: the report is built again one
step smaller and sent on the same connection. The delivery says which form went out
and why.

Login: one AUTH, with the best mechanism the server offers (PLAIN, else LOGIN), the
user and password in UTF-8 (RFC 4616, RFC 4954); smtplib's ``login`` is not used as
it encodes them as ASCII and, on a refusal, tries the next mechanism: two failed
logins per attempt, which counts double towards a lock-out.

Partly refused recipients: when the server accepts some recipients and refuses others,
the message is sent to the accepted ones (they get their report) and the refused ones
come back in ``Delivery.refused``; ``Delivery.refused_error()`` words it as a permanent
error for the run history, naming each address with the server's answer. It is not
retried: a retry would send the report a second time to everyone who got it. When every
recipient is refused, nothing is sent and an EmailError is raised (transient only if
all refusals were 4xx).

Timeouts: ``SMTP_TIMEOUT`` bounds each network operation (connect, TLS handshake,
each command and reply), so no call can hang.

Longer than ~400 lines on purpose: most of it is the table of SMTP failures
turned into what to check (``_translate``); it belongs with the sending it explains.
"""

from __future__ import annotations

import base64
import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from src.core import clock
from src.core.email_rules import format_size
from src.core.errors import EmailError
from src.services.mail.message import (
    LEFT_OFF,
    ZIPPED,
    BuiltMessage,
    build_simple_message,
)
from src.services.mail.outbox import prune_outbox, write_outbox
from src.services.mail.settings import SmtpSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Kept below the SIZE a server announces: each server on the way adds headers counted
#: against its own limit -- Received (~0.3 KB a hop), DKIM-Signature (~0.7 KB), an ARC
#: set (~3 KB a hop), Authentication-Results and spam-filter headers (~1 KB) -- so a
#: message right at the limit is refused one hop later. 32 KiB covers a few relays with
#: all of these; on a 10 MB limit it is 0.3 %. A tenth of the limit when that is less,
#: for the tiny limits of test servers.
SIZE_MARGIN = 32 * 1024

#: The mechanisms tried, best first; one of them, once (see the module docstring).
AUTH_MECHANISMS = ("PLAIN", "LOGIN")

#: RFC 3463 statuses that mean "message too big": 5.3.4 (for the system), 5.2.3
#: (over the mailbox's administrative limit).
_TOO_BIG_STATUS = re.compile(r"^\s*5\.(3\.4|2\.3)\b")


@dataclass
class Delivery:
    """What happened to one message, for the CLI and the run history."""

    message_id: str
    recipients: list[str]
    outbox_path: Path | None
    attachments_mode: str
    size_bytes: int
    #: Recipients the server refused while accepting others: address -> (code, text).
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    left_off: list[Path] = field(default_factory=list)
    server: str | None = None
    attempts: int = 1
    attached: list[Path] = field(default_factory=list)
    #: Why the attachments were zipped or left off (empty when they went as they are).
    size_reason: str = ""

    @property
    def delivered_to(self) -> list[str]:
        """Envelope recipients the server accepted (all of them for the outbox)."""
        refused = {a.lower() for a in self.refused}
        return [r for r in self.recipients if r.lower() not in refused]

    def refused_error(self) -> EmailError | None:
        """The partial refusal as a permanent error to record, or None if there was none."""
        if not self.refused:
            return None
        return EmailError(
            f"the report went to {', '.join(self.delivered_to)} but the SMTP server "
            f"{self.server} refused "
            + "; ".join(f"{a} ({code} {text})" for a, (code, text) in self.refused.items())
            + "; check these addresses in the task's email.to / cc / bcc",
            permanent=True,
        )

    def describe(self) -> str:
        """One line for people: where the message went, and how the files went with it."""
        if self.outbox_path is not None:
            text = f"no SMTP_HOST set: message written to {self.outbox_path}"
        else:
            text = f"sent to {', '.join(self.delivered_to)} via {self.server}"
            if self.attempts > 1:
                text += f" (attempt {self.attempts})"
            if self.refused:
                text += f"; refused: {', '.join(self.refused)}"
        return text + self.attachments_text()

    def attachments_text(self) -> str:
        """``; attachments zipped into x.zip (why)`` when they did not go as they are."""
        if self.attachments_mode == ZIPPED:
            names = ", ".join(p.name for p in self.attached)
            return f"; attachments zipped into {names} ({self.size_reason})"
        if self.attachments_mode == LEFT_OFF:
            return (
                f"; attachments left off, the message says where they are kept ({self.size_reason})"
            )
        return ""


def send(settings: SmtpSettings, built: BuiltMessage, *, now: datetime | None = None) -> Delivery:
    """Send once over SMTP, or write to the outbox when ``settings.host`` is not set
    (and prune it: messages older than ``settings.outbox_keep_days`` go)."""
    if settings.uses_outbox:
        when = now or clock.now()
        path = write_outbox(settings.outbox_dir, built, now=when)
        try:
            prune_outbox(settings.outbox_dir, settings.outbox_keep_days, when)
        except OSError as exc:  # the message is written: a failed clean-up must not fail it
            log.warning("cannot prune the outbox %s: %s", settings.outbox_dir, exc)
        return _delivery(built, outbox_path=path)
    refused, sent = _smtp_send(settings, built)
    return _delivery(sent, refused=refused, server=f"{settings.host}:{settings.port}")


def send_with_retry(
    settings: SmtpSettings,
    built: BuiltMessage,
    *,
    attempts: int = 3,
    delay: float = 10.0,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    now: datetime | None = None,
) -> Delivery:
    """``send`` with retries of transient failures only: waits ``delay``, then
    ``delay * backoff``, ... between attempts. A permanent error is raised at once; the
    last transient one is raised after ``attempts`` tries, saying how many were made."""
    counter = {"n": 0}

    def once() -> Delivery:
        counter["n"] += 1
        return send(settings, built, now=now)

    delivery = retry_transient(once, attempts=attempts, delay=delay, backoff=backoff, sleep=sleep)
    delivery.attempts = counter["n"]
    return delivery


def retry_transient(
    func: Callable[[], T],
    *,
    attempts: int,
    delay: float,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``func`` until it succeeds, retrying ``EmailError(permanent=False)`` only."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    wait = delay
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except EmailError as exc:
            if exc.permanent:
                raise
            if attempt == attempts:
                if attempts > 1:
                    raise EmailError(
                        f"{exc} (gave up after {attempts} attempts)", permanent=False
                    ) from exc
                raise
            log.warning(
                "attempt %d of %d failed, retrying in %gs: %s", attempt, attempts, wait, exc
            )
            sleep(wait)
            wait *= backoff
    raise AssertionError("unreachable")  # pragma: no cover


def send_test_message(settings: SmtpSettings, to: str, *, now: datetime | None = None) -> Delivery:
    """Send a short message to ``to`` to check the settings (``manage_tasks.py test-email``)."""
    when = now or clock.now()
    body = (
        "This is a test message from db-scheduler.\n\n"
        f"Settings used: {settings.describe()}\n"
        f"Sent at: {when.isoformat(timespec='seconds')}\n\n"
        "If you can read this, scheduled reports can be delivered to this address.\n"
    )
    built = build_simple_message(
        settings, [to], "db-scheduler test message", body, now=when, task_name="test-email"
    )
    return send(settings, built, now=when)


# --- SMTP ------------------------------------------------------------------------


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


def _smtp_send(
    settings: SmtpSettings, built: BuiltMessage
) -> tuple[dict[str, tuple[int, str]], BuiltMessage]:
    """Send ``built`` (or a smaller form of it, see the module docstring): returns the
    refused recipients and the message that went out."""
    assert settings.host is not None
    where = f"{settings.host}:{settings.port}"
    stage = ["connect"]  # where a failure happened, for its message (set by _open too)
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _open(settings, stage)
        built = _fit_announced_size(smtp, settings, built)
        while True:
            stage[0] = "send"
            options = _mail_options(smtp, where, built)
            try:
                raw = smtp.sendmail(built.from_addr, built.recipients, built.data, options)
                break
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                if not _too_large(exc) or not built.can_shrink:
                    raise
                assert built.refit is not None
                refused_size = built.size_bytes
                built = built.refit(
                    refused_size - 1,
                    f"the mail server's size limit (it refused a {format_size(refused_size)} "
                    f"message: {_reply(exc.smtp_code, exc.smtp_error)})",
                )
                log.warning(
                    "SMTP server %s refused %d bytes as too large; sending it %s",
                    where,
                    refused_size,
                    built.attachments_mode,
                )
                if smtp.sock is None:  # the server hung up after its answer: once more
                    smtp = _open(settings, stage)
        refused = {addr: (code, _text(msg)) for addr, (code, msg) in raw.items()}
    except OSError as exc:  # smtplib's and ssl's exceptions are OSErrors too
        raise _translate(exc, settings, stage[0]) from exc
    except UnicodeError:
        # A value smtplib cannot encode (it sends commands as ASCII). Its message would
        # show the character and its place -- part of a secret, maybe -- so it is dropped.
        raise EmailError(
            f"SMTP server {where}: a value sent during {stage[0]} has characters SMTP cannot "
            "carry there; check SMTP_HELO_NAME and the addresses (SMTP_FROM, the task's "
            "email.to / cc / bcc)",
            permanent=True,
        ) from None
    finally:
        if smtp is not None:
            _close(smtp)
    if refused:
        log.warning("SMTP server %s refused some recipients: %s", where, refused)
    return refused, built


def _open(settings: SmtpSettings, stage: list[str]) -> smtplib.SMTP:
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
            if _timed_out(exc) and _speaks_tls(settings):
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
        _close(smtp)
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


def _timed_out(exc: BaseException) -> bool:
    # smtplib reports a read timeout as "Connection unexpectedly closed: timed out".
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


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


def _fit_announced_size(
    smtp: smtplib.SMTP, settings: SmtpSettings, built: BuiltMessage
) -> BuiltMessage:
    """A report over the ``SIZE`` the server announces (less SIZE_MARGIN) is built again
    to fit: zipped, or with the files left off. ``SIZE`` without a number, or 0, means no
    fixed limit (RFC 1870 4)."""
    announced = smtp.esmtp_features.get("size", "").strip()
    if not (announced.isascii() and announced.isdigit()) or int(announced) == 0:
        return built
    limit = int(announced)
    cap = min(settings.max_bytes, limit - min(SIZE_MARGIN, limit // 10))
    if built.size_bytes <= cap or not built.can_shrink:
        return built
    assert built.refit is not None
    return built.refit(cap, f"the mail server's size limit ({format_size(limit)})")


def _mail_options(smtp: smtplib.SMTP, where: str, built: BuiltMessage) -> list[str]:
    if not built.smtputf8:
        return []
    if not smtp.has_extn("smtputf8"):
        raise EmailError(
            f"SMTP server {where} does not support SMTPUTF8, which the non-ASCII "
            f"addresses among {', '.join(built.recipients)} need; use ASCII addresses",
            permanent=True,
        )
    return ["SMTPUTF8", "BODY=8BITMIME"]


def _too_large(exc: smtplib.SMTPResponseException) -> bool:
    """A refusal of MAIL FROM or of the message that means "too large": 552 (RFC 5321
    4.2.2 "exceeded storage allocation", RFC 1870 6.1) or a 5.3.4 / 5.2.3 status."""
    if exc.smtp_code == 552:
        return True
    return exc.smtp_code >= 500 and bool(_TOO_BIG_STATUS.match(_text(exc.smtp_error)))


def _close(smtp: smtplib.SMTP) -> None:
    # The outcome is already decided (sent, or an error is on its way); a failing QUIT
    # must not turn a delivered message into a failure, so its errors are ignored.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _reply(code: int, msg: bytes | str) -> str:
    return f"{code} {_text(msg)}".strip()


def _translate(exc: OSError, settings: SmtpSettings, stage: str) -> EmailError:
    """Turn what smtplib / ssl / socket raised into an EmailError saying what to check."""
    where = f"SMTP server {settings.host}:{settings.port}"
    # Order matters: SMTP exceptions and SSL errors are OSErrors too.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = {a: (c, _text(m)) for a, (c, m) in exc.recipients.items()}
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
            f"{_reply(exc.smtp_code, exc.smtp_error)}; check SMTP_USER and SMTP_PASSWORD",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError) and _too_large(exc):
        return EmailError(
            f"{where} refused the message as too large: {_reply(exc.smtp_code, exc.smtp_error)}"
            "; it has no attachments left to zip or leave off, so shorten the body template "
            "or ask the server's administrator for a higher limit",
            permanent=True,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return EmailError(
            f"{where} refused the sender {_text(exc.sender)}: "
            f"{_reply(exc.smtp_code, exc.smtp_error)}; check SMTP_FROM (many servers only "
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
            f"{where} {what} {_reply(exc.smtp_code, exc.smtp_error)}; {hint}", permanent=permanent
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


def _delivery(
    built: BuiltMessage,
    *,
    outbox_path: Path | None = None,
    refused: dict[str, tuple[int, str]] | None = None,
    server: str | None = None,
) -> Delivery:
    return Delivery(
        message_id=built.message_id,
        recipients=list(built.recipients),
        outbox_path=outbox_path,
        attachments_mode=built.attachments_mode,
        size_bytes=built.size_bytes,
        refused=dict(refused or {}),
        left_off=list(built.left_off),
        server=server,
        attached=list(built.attached),
        size_reason=built.size_reason,
    )
