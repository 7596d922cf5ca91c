"""Send a built message over SMTP, or write it to the outbox folder when no server is set.

Every failure becomes an ``EmailError`` whose ``permanent`` flag says whether trying
again can help, with the server's code and text and what to check
(:mod:`src.services.mail.smtp_errors`); the session -- connect, STARTTLS, one UTF-8
login -- is :mod:`src.services.mail.smtp_session`.

Size: the ``SIZE`` a server announces in EHLO (RFC 1870), less ``SIZE_MARGIN`` for the
headers servers add on the way, caps the message below ``EMAIL_MAX_BYTES``; a report
over it is built again (attach -> zip -> leave off with a note) before MAIL FROM. A 552
answer to MAIL FROM or at the end of DATA (or a 5.3.4 / 5.2.3 status: "message too
big", RFC 3463) means too large, not a refused sender: the report is built again one
step smaller and sent on the same connection. The delivery says which form went out
and why.

Partly refused recipients: when the server accepts some recipients and refuses others,
the message is sent to the accepted ones (they get their report) and the refused ones
come back in ``Delivery.refused``; ``Delivery.refused_error()`` words it as a permanent
error for the run history, naming each address with the server's answer. It is not
retried: a retry would send the report a second time to everyone who got it. When every
recipient is refused, nothing is sent and an EmailError is raised (transient only if
all refusals were 4xx).

Timeouts: ``SMTP_TIMEOUT`` bounds each network operation (connect, TLS handshake,
each command and reply), so no call can hang.
"""

from __future__ import annotations

import logging
import smtplib
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
from src.services.mail.smtp_errors import reply, text, too_large, translate
from src.services.mail.smtp_session import close_session, open_session

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Kept below the SIZE a server announces: each server on the way adds headers counted
#: against its own limit -- Received (~0.3 KB a hop), DKIM-Signature (~0.7 KB), an ARC
#: set (~3 KB a hop), Authentication-Results and spam-filter headers (~1 KB) -- so a
#: message right at the limit is refused one hop later. 32 KiB covers a few relays with
#: all of these; on a 10 MB limit it is 0.3 %. A tenth of the limit when that is less,
#: for the tiny limits of test servers.
SIZE_MARGIN = 32 * 1024


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


def _smtp_send(
    settings: SmtpSettings, built: BuiltMessage
) -> tuple[dict[str, tuple[int, str]], BuiltMessage]:
    """Send ``built`` (or a smaller form of it, see the module docstring): returns the
    refused recipients and the message that went out."""
    assert settings.host is not None
    where = f"{settings.host}:{settings.port}"
    stage = ["connect"]  # where a failure happened, for its message (set by open_session too)
    smtp: smtplib.SMTP | None = None
    try:
        smtp = open_session(settings, stage)
        built = _fit_announced_size(smtp, settings, built)
        while True:
            stage[0] = "send"
            options = _mail_options(smtp, where, built)
            try:
                raw = smtp.sendmail(built.from_addr, built.recipients, built.data, options)
                break
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                if not too_large(exc) or not built.can_shrink:
                    raise
                assert built.refit is not None
                refused_size = built.size_bytes
                built = built.refit(
                    refused_size - 1,
                    f"the mail server's size limit (it refused a {format_size(refused_size)} "
                    f"message: {reply(exc.smtp_code, exc.smtp_error)})",
                )
                log.warning(
                    "SMTP server %s refused %d bytes as too large; sending it %s",
                    where,
                    refused_size,
                    built.attachments_mode,
                )
                if smtp.sock is None:  # the server hung up after its answer: once more
                    smtp = open_session(settings, stage)
        refused = {addr: (code, text(msg)) for addr, (code, msg) in raw.items()}
    except OSError as exc:  # smtplib's and ssl's exceptions are OSErrors too
        raise translate(exc, settings, stage[0]) from exc
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
            close_session(smtp)
    if refused:
        log.warning("SMTP server %s refused some recipients: %s", where, refused)
    return refused, built


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
