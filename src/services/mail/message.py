"""Build a report email: rendered subject and body, preview table, attachments, size policy.

The message is multipart: a plain-text body with an HTML alternative (both carry the
same report, :class:`src.services.mail.preview.ReportBody`: title, body text, key
figures, preview, files attached, notes), then the attachments. Everything a person typed is
checked again here (addresses, subject), so a value that slipped past the task
model's checks still cannot inject a header.

Size policy, decided on the encoded size (base64 grows files by 4/3 plus line breaks):
the files are attached as they are if the message fits ``EMAIL_MAX_BYTES``; otherwise
they are zipped into one ``.zip`` next to them; if that is still too big they are left
off and both bodies say which files were left off and where they are kept. The
decision, and why it was taken, is returned so the run history can record it.

The limit is ``EMAIL_MAX_BYTES`` when the message is built; the transport may build it
again (``BuiltMessage.refit``) under a lower limit it learns from the server: the
``SIZE`` it announces, or a 552 "too large" answer. The same report then goes out
zipped or with a note, with the same Message-ID and date.

Longer than ~400 lines on purpose: the size policy decides what the message holds, so it
stays with the code that assembles it; a rebuild under the server's limit must make
exactly what the first build would have made under that limit.
"""

from __future__ import annotations

import mimetypes
import re
import socket
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from src.core import clock, defaults
from src.core.column_format import ColumnSpec
from src.core.email_rules import (
    format_address,
    format_duration,
    format_size,
    parse_address,
    validate_addresses,
    validate_header_text,
)
from src.core.errors import EmailError
from src.core.result import Row
from src.core.templating import render
from src.core.vocabulary import ReportLocale
from src.services.mail.preview import AttachedFile, Preview, ReportBody, plain_body
from src.services.mail.report_html import html_body
from src.services.mail.settings import SmtpSettings

#: ``Delivery.attachments_mode`` values.
NO_ATTACHMENTS = "none"
ATTACHED = "attached"
ZIPPED = "zipped"
LEFT_OFF = "left_off"

#: Rows shown in the body's preview table by default.
DEFAULT_PREVIEW_ROWS = 20

DEFAULT_SUBJECT = defaults.EMAIL_SUBJECT
DEFAULT_BODY = defaults.EMAIL_BODY

# mimetypes' table depends on the machine (/etc/mime.types); these are the ones we produce.
# A text/* part without a charset means US-ASCII (RFC 2046 4.1.2), so a text attachment
# gets charset=utf-8 when its bytes are UTF-8 (our CSV always is): see _attach_file.
# application/json has no charset parameter: JSON is UTF-8 by definition (RFC 8259 8.1).
_KNOWN_TYPES = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".pdf": ("application", "pdf"),
    ".csv": ("text", "csv"),
    ".zip": ("application", "zip"),
    ".json": ("application", "json"),
    ".txt": ("text", "plain"),
}

#: What the default limit is called in the notes and the history.
MAX_BYTES_LIMIT = "the mail size limit"

#: Rebuild a report under a lower limit: ``refit(max_bytes, what the limit is)``.
Refit = Callable[[int, str], "BuiltMessage"]


@dataclass(frozen=True)
class ReportEmail:
    """What one run wants to send. ``subject`` and ``body`` are templates.

    ``variables`` are the run variables (``run_date`` ...) and ``run_id``; the builder
    adds ``task_name``, ``row_count`` and ``duration``. ``preview_rows`` are the first
    rows of the result (more than ``preview_limit`` is fine: the rest are not shown);
    ``row_count`` is the total, for the "and N more rows" line.
    """

    task_name: str
    to: Sequence[str]
    #: The task's description, under the report's title
    description: str = ""
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    variables: Mapping[str, Any] = field(default_factory=dict)
    row_count: int = 0
    duration: float | None = None
    columns: Sequence[str] = ()
    preview_rows: Sequence[Row] = ()
    preview_limit: int = DEFAULT_PREVIEW_ROWS
    #: The task's zone: preview date-times with a zone are shown in it.
    zone: ZoneInfo | None = None
    attachments: Sequence[Path] = ()
    #: Each preview column's format (the task's ``columns``); none: values as cell_text
    formats: Sequence[ColumnSpec] = ()
    #: The totals row as text, computed over every row of the result (empty: none)
    totals: Sequence[str] = ()
    #: The task's locale: how the preview's numbers and dates read (None: the default)
    locale: ReportLocale | None = None
    #: The chart as a PNG, shown in the HTML body as an inline (cid:) image; its title
    chart_png: bytes | None = None
    chart_title: str = ""
    #: Sentences about the run the reader should see (a chart that was not drawn)
    notes: Sequence[str] = ()


@dataclass
class BuiltMessage:
    """A message ready to send, with its envelope and the size decision."""

    message: EmailMessage
    from_addr: str
    recipients: list[str]
    attachments_mode: str
    #: The message as it goes on the wire (CRLF), kept from measuring it, so sending
    #: and writing the outbox do not serialize a 20 MB message again.
    data: bytes = field(repr=False)
    attached: list[Path] = field(default_factory=list)
    left_off: list[Path] = field(default_factory=list)
    task_name: str = ""
    #: Why the attachments were zipped or left off (empty when attached as they are).
    size_reason: str = ""
    #: Builds the same report again under a lower limit (None: not a report, cannot).
    refit: Refit | None = field(default=None, repr=False, compare=False)

    @property
    def can_shrink(self) -> bool:
        """True while a smaller form exists: attached can be zipped, zipped left off."""
        return self.refit is not None and self.attachments_mode in (ATTACHED, ZIPPED)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    @property
    def smtputf8(self) -> bool:
        """Whether an address needs the SMTPUTF8 extension (non-ASCII local part or domain)."""
        return needs_smtputf8([self.from_addr, *self.recipients])


def encoded_size(raw_bytes: int) -> int:
    """Bytes a file of ``raw_bytes`` takes in a message: base64, 76-char lines, CRLF."""
    b64 = 4 * ((raw_bytes + 2) // 3)
    lines = (b64 + 75) // 76
    return b64 + 2 * lines


def needs_smtputf8(addrs: Sequence[str]) -> bool:
    return not all(a.isascii() for a in addrs)


def wire_bytes(message: EmailMessage, utf8: bool = False) -> bytes:
    """The message as smtplib sends it: CRLF line ends; raw UTF-8 headers for SMTPUTF8."""
    return message.as_bytes(policy=SMTPUTF8 if utf8 else SMTP)


def message_size(message: EmailMessage) -> int:
    """Exact size of the message on the wire."""
    return len(wire_bytes(message))


def build_report_message(
    report: ReportEmail,
    settings: SmtpSettings,
    *,
    now: datetime | None = None,
    server_name: str | None = None,
    max_bytes: int | None = None,
    limit_name: str = MAX_BYTES_LIMIT,
    message_id: str | None = None,
) -> BuiltMessage:
    """Render, check and assemble the message for one run, applying the size policy.

    ``server_name`` names this machine in the note about files left off (default:
    its host name). ``max_bytes`` (default ``settings.max_bytes``) is the limit and
    ``limit_name`` what it is called in the notes and the reason ("the mail server's
    size limit"). Raises ValidationError for a bad address or subject, EmailError
    (permanent) when an attachment is missing or the message cannot fit at all.
    """
    if not report.to and not report.cc and not report.bcc:
        raise EmailError(
            f"task {report.task_name!r} has no recipients; set email.to", permanent=True
        )
    to = validate_addresses(report.to, "email.to")
    cc = validate_addresses(report.cc, "email.cc")
    bcc = validate_addresses(report.bcc, "email.bcc")

    values: dict[str, Any] = dict(report.variables)
    values["task_name"] = report.task_name
    values["row_count"] = report.row_count
    values["duration"] = "" if report.duration is None else format_duration(report.duration)
    subject = validate_header_text(render(report.subject, values, "email.subject"), "email.subject")
    body = render(report.body, values, "email.body")

    files = [Path(p) for p in report.attachments]
    for path in files:
        if not path.is_file():
            raise EmailError(
                f"attachment {path} does not exist; the export step should have written it",
                permanent=True,
            )

    preview = Preview(
        columns=[str(c) for c in report.columns],
        rows=list(report.preview_rows[: max(report.preview_limit, 0)]),
        total=report.row_count,
        zone=report.zone,
        formats=list(report.formats),
        totals=list(report.totals),
        locale=report.locale,
    )
    envelope = _envelope(to + cc + bcc)
    when = now or clock.now()
    limit = settings.max_bytes if max_bytes is None else max_bytes
    msgid = message_id or make_msgid(domain=_msgid_domain(settings.from_addr))
    # The configured limit is named with its size; a limit learnt from the server comes
    # named with what the server said (its SIZE, or the size it refused).
    configured = limit_name == MAX_BYTES_LIMIT
    limit_text = f"{limit_name} ({format_size(limit)})" if configured else limit_name

    def refit(smaller: int, name: str) -> BuiltMessage:
        return build_report_message(
            report,
            settings,
            now=when,
            server_name=server_name,
            max_bytes=min(smaller, limit),
            limit_name=name,
            message_id=msgid,
        )

    chart_cid = make_msgid("chart", domain=_msgid_domain(settings.from_addr))

    def compose(attach: Sequence[Path], size_notes: Sequence[str]) -> EmailMessage:
        msg = _skeleton(settings, to, cc, subject, when, msgid)
        content = ReportBody(
            title=report.task_name,
            description=report.description,
            run_time=_run_time(report.variables.get("run_time")),
            body=body,
            preview=preview,
            notes=[*size_notes, *report.notes],
            attachments=[AttachedFile(p.name, p.stat().st_size) for p in attach],
            footer=f'Sent by db-scheduler for the task "{report.task_name}".',
        )
        # quoted-printable keeps the message 7-bit, so it passes servers without 8BITMIME.
        msg.set_content(plain_body(content), cte="quoted-printable")
        cid = chart_cid[1:-1] if report.chart_png else None
        html = html_body(content, chart_cid=cid, chart_alt=report.chart_title or None)
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        if report.chart_png:
            _add_chart(msg, report.chart_png, chart_cid)
        for path in attach:
            _attach_file(msg, path)
        return msg

    utf8 = needs_smtputf8([settings.from_addr, *envelope])

    def built(
        msg: EmailMessage,
        mode: str,
        data: bytes,
        attached: list[Path],
        off: list[Path],
        reason: str = "",
    ) -> BuiltMessage:
        return BuiltMessage(
            message=msg,
            from_addr=settings.from_addr,
            recipients=envelope,
            attachments_mode=mode,
            data=data,
            attached=attached,
            left_off=off,
            task_name=report.task_name,
            size_reason=reason,
            refit=refit,
        )

    bare = compose([], [])
    bare_data = wire_bytes(bare, utf8)
    bare_size = len(bare_data)
    if not files:
        _check_fits(bare_size, limit, limit_text, report.task_name, configured)
        return built(bare, NO_ATTACHMENTS, bare_data, [], [])

    # 1. As they are. The lower bound skips reading files that cannot fit anyway.
    total = bare_size + sum(encoded_size(p.stat().st_size) for p in files)
    if total <= limit:
        msg = compose(files, [])
        data = wire_bytes(msg, utf8)
        if len(data) <= limit:
            return built(msg, ATTACHED, data, files, [])
        total = len(data)

    # 2. Zipped into one file next to the first one (kept with the run's exports).
    zip_path = _zip_files(files, _zip_name(report.task_name, files))
    note = f"The attachments were compressed into {zip_path.name} to stay under {limit_text}."
    zipped_total = bare_size + encoded_size(zip_path.stat().st_size)
    if zipped_total <= limit:
        msg = compose([zip_path], [note])
        data = wire_bytes(msg, utf8)
        if len(data) <= limit:
            reason = (
                f"with the files attached the message is {format_size(total)}, over {limit_text}"
            )
            return built(msg, ZIPPED, data, [zip_path], [], reason)
        zipped_total = len(data)
    zip_path.unlink()

    # 3. Left off: say which files and where they are, in both bodies.
    where = server_name or socket.gethostname()
    notes = [
        f"The attachments are too large to send by email, even zipped: with them this "
        f"message would be about {format_size(total)}, over {limit_text}. They "
        f"were left off this message and are kept on the server {where}:",
        *(f"{p.resolve()} ({format_size(p.stat().st_size)})" for p in files),
    ]
    msg = compose([], notes)
    data = wire_bytes(msg, utf8)
    _check_fits(len(data), limit, limit_text, report.task_name, configured)
    reason = (
        f"even zipped the files make the message {format_size(zipped_total)}, over {limit_text}"
    )
    return built(msg, LEFT_OFF, data, [], files, reason)


def build_simple_message(
    settings: SmtpSettings,
    to: Sequence[str],
    subject: str,
    body: str,
    *,
    now: datetime | None = None,
    task_name: str = "",
) -> BuiltMessage:
    """A plain-text message (the ``test-email`` command, notices)."""
    recipients = validate_addresses(to, "to")
    subject = validate_header_text(subject, "subject")
    msgid = make_msgid(domain=_msgid_domain(settings.from_addr))
    msg = _skeleton(settings, recipients, [], subject, now or clock.now(), msgid)
    msg.set_content(body)
    envelope = _envelope(recipients)
    return BuiltMessage(
        message=msg,
        from_addr=settings.from_addr,
        recipients=envelope,
        attachments_mode=NO_ATTACHMENTS,
        data=wire_bytes(msg, needs_smtputf8([settings.from_addr, *envelope])),
        task_name=task_name,
    )


# --- internals -------------------------------------------------------------------


def _run_time(value: Any) -> str:
    """The run's scheduled time as the report shows it: ``2026-11-30 08:00 CET`` (the run
    variable ``run_time`` is already in the task's zone)."""
    if not isinstance(value, datetime):
        return ""
    return f"{value:%Y-%m-%d %H:%M} {value.tzname() or ''}".rstrip()


def _envelope(addrs: Sequence[str]) -> list[str]:
    """Bare addresses for RCPT TO, each once (compared case-insensitively)."""
    seen: set[str] = set()
    out: list[str] = []
    for addr in addrs:
        bare = parse_address(addr, "recipient")[1]
        if bare.lower() not in seen:
            seen.add(bare.lower())
            out.append(bare)
    return out


def _skeleton(
    settings: SmtpSettings,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    when: datetime,
    message_id: str,
) -> EmailMessage:
    """Headers only. Bcc is never a header: those recipients are in the envelope only."""
    msg = EmailMessage()
    # Headers are set from the checked, quoted text rather than headerregistry.Address,
    # which refuses non-ASCII local parts that SMTPUTF8 servers accept.
    msg["From"] = format_address(settings.from_name or "", settings.from_addr)
    if to:
        msg["To"] = ", ".join(to)
    else:
        # Only Bcc recipients: say so without naming them (RFC 5322 3.6.3).
        msg["To"] = "undisclosed-recipients:;"
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    # Tells mail servers and clients not to send auto-replies to a report.
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def _msgid_domain(from_addr: str) -> str:
    domain = from_addr.rpartition("@")[2] or "localhost"
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "localhost"


def _add_chart(msg: EmailMessage, png: bytes, cid: str) -> None:
    """The chart beside the HTML part it appears in: that part becomes
    multipart/related (the HTML, then the image/png part whose Content-ID it names)."""
    parts = msg.get_payload()
    assert isinstance(parts, list)
    html_part = parts[-1]
    assert isinstance(html_part, EmailMessage) and html_part.get_content_type() == "text/html"
    html_part.add_related(
        png, maintype="image", subtype="png", cid=cid, disposition="inline", filename="chart.png"
    )


def _attach_file(msg: EmailMessage, path: Path) -> None:
    maintype, subtype = _mime_type(path)
    data = path.read_bytes()
    params = {}
    if maintype == "text" and _is_utf8(data):
        params["charset"] = "utf-8"
    # Non-ASCII names go out as RFC 2231 (filename*=utf-8''...): the email package
    # does this itself under the default policy.
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name, params=params)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mime_type(path: Path) -> tuple[str, str]:
    known = _KNOWN_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, encoding = mimetypes.guess_type(path.name)
    if guessed is None or encoding is not None:
        return "application", "octet-stream"
    maintype, _, subtype = guessed.partition("/")
    return maintype, subtype


def _zip_name(task_name: str, files: Sequence[Path]) -> Path:
    folder = files[0].parent
    stem = safe_file_part(task_name) or "attachments"
    candidate = folder / f"{stem}.zip"
    if candidate in files:
        candidate = folder / f"{stem}-attachments.zip"
    return candidate


def _zip_files(files: Sequence[Path], target: Path) -> Path:
    """Deflate the files into ``target`` (written to a temporary name, then renamed)."""
    tmp = target.with_name(target.name + ".part")
    used: set[str] = set()
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                name = path.name
                n = 1
                while name in used:  # two files with one name from two folders
                    n += 1
                    name = f"{path.stem}-{n}{path.suffix}"
                used.add(name)
                zf.write(path, arcname=name)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EmailError(
            f"cannot write {target} to zip the attachments: {exc}", permanent=True
        ) from None
    except BaseException:  # interrupted (Ctrl-C, the worker's Terminated): no partial zip
        tmp.unlink(missing_ok=True)
        raise
    return target


def safe_file_part(text: str, limit: int = 50) -> str:
    """A piece of a file name made from free text: letters, digits, ``-_.``, at most ``limit``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned[:limit].rstrip("._")


def _check_fits(size: int, limit: int, limit_text: str, task_name: str, configured: bool) -> None:
    if size > limit:
        what = (
            f"EMAIL_MAX_BYTES ({format_size(limit)}); shorten the body template or raise the limit"
            if configured
            else f"{limit_text}; shorten the body template"
        )
        raise EmailError(
            f"the message for task {task_name!r} is {format_size(size)} without attachments, "
            f"over {what}",
            permanent=True,
        )
