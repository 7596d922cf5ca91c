"""Pure checks and decisions about delivering a report by email.

No I/O here (addresses are checked for syntax only, never looked up in DNS): the
task model calls these when a task is saved, and the mail service calls them again
when it builds a message, so a bad value is refused early and can never reach SMTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from src.core.errors import ValidationError
from src.core.vocabulary import SendIf

# C0 controls and DEL. CR and LF would end a header and start another (header
# injection); the others have no business in a subject or name either. TAB is allowed.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NAME_ADDR = re.compile(r"^(?P<name>.*?)\s*<(?P<addr>[^<>]*)>\s*$", re.DOTALL)

#: Longest subject accepted; RFC 5322 limits a header line to 998 characters.
MAX_SUBJECT_CHARS = 900


def validate_header_text(text: str, field: str) -> str:
    """Refuse text that cannot be a header value (a subject, a display name).

    A CR or LF would let a value add headers of its own, so it is refused rather
    than stripped: the person who typed it learns about it at save time.
    """
    if not isinstance(text, str):
        raise ValidationError(field, f"expected text, got {type(text).__name__}")
    bad = _CONTROL.search(text)
    if bad:
        what = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)"}.get(
            bad.group(), f"the control character {bad.group()!r}"
        )
        raise ValidationError(
            field, f"{text!r} contains {what}; a header must be a single line of text"
        )
    if len(text) > MAX_SUBJECT_CHARS:
        raise ValidationError(
            field, f"is {len(text)} characters long; use at most {MAX_SUBJECT_CHARS}"
        )
    return text


def parse_address(addr: str, field: str) -> tuple[str, str]:
    """Check one address (``a@example.com`` or ``Name <a@example.com>``).

    Returns ``(display_name, address)`` with the address normalized (domain in lower
    case). Syntax only (no DNS), so it is fast and works offline. Single-label
    intranet domains (``user@mailhost``) are accepted here, so a file that has them
    still loads; the commands that take a new address refuse them (:func:`dotless_domain`).
    Reserved names (``localhost``, ``.local``, ``.test``) are refused by email-validator.
    """
    if not isinstance(addr, str):
        raise ValidationError(field, f"expected an email address, got {type(addr).__name__}")
    if "\r" in addr or "\n" in addr:
        raise ValidationError(field, f"{addr!r} contains a line break; give one address per entry")
    text = addr.strip()
    if not text:
        raise ValidationError(field, "is empty; give an address such as name@example.com")
    name = ""
    match = _NAME_ADDR.match(text)
    if match:
        name = match.group("name").strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1]).strip()
        validate_header_text(name, field)
        text = match.group("addr").strip()
    if "," in text or ";" in text:
        raise ValidationError(
            field, f"{addr!r} holds several addresses; give one address per entry"
        )
    normalized, problem = _check_mailbox(text)
    if problem is not None:
        raise ValidationError(field, f"{addr!r} is not a valid email address: {problem}")
    return name, normalized


@lru_cache(maxsize=4096)
def _check_mailbox(text: str) -> tuple[str, str | None]:
    """email-validator's verdict on one address, cached: a tasks file names the same few
    recipients thousands of times, and the check is the slowest part of loading it."""
    try:
        checked = validate_email(text, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        return text, str(exc)
    return str(checked.normalized), None


def dotless_domain(addr: str, field: str) -> str | None:
    """Why an address whose domain has no dot (``boss@example``) is refused by ``add``,
    ``edit`` and ``run --to``, or None when its domain has a dot.

    Such a domain is far more often a typo (``example`` for ``example.com``) than an
    intranet host, and a typo is found out only when the report never arrives. So the
    commands that take a new address refuse it; a tasks.json entry already written
    keeps loading (``validate`` warns), so an intranet setup that relies on one keeps
    working.
    """
    _name, address = parse_address(addr, field)
    domain = address.rpartition("@")[2]
    if "." in domain:
        return None
    return (
        f"{address!r}: the domain {domain!r} has no dot, so it is not an internet address "
        f"(a typo for {address}.com?). Write the full domain, such as {address}.com"
    )


def validate_address(addr: str, field: str) -> str:
    """Check one address; returns it normalized (``"Name" <a@ex.com>`` or ``a@ex.com``)."""
    return format_address(*parse_address(addr, field))


def format_address(name: str, addr: str) -> str:
    """``"Name" <addr>`` (name quoted and escaped), or the bare address without a name."""
    if not name:
        return addr
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{addr}>'


def validate_addresses(addrs: Iterable[str], field: str) -> list[str]:
    """Check a list of addresses; the error names the entry (``email.to[1]``)."""
    if isinstance(addrs, str):
        raise ValidationError(field, "expected a list of addresses, got a single text")
    return [validate_address(a, f"{field}[{i}]") for i, a in enumerate(addrs)]


def check_send_if(value: str, field: str = "email.send_if") -> SendIf:
    """Validate ``send_if`` at save time; returns it as a SendIf."""
    if value not in SendIf.values():
        raise ValidationError(
            field, f"unknown value {value!r}; accepted: " + ", ".join(SendIf.values())
        )
    return SendIf(value)


def should_send(send_if: str, row_count: int) -> bool:
    """Whether a run that produced ``row_count`` rows sends its email.

    See :class:`SendIf` for what each value means.
    """
    policy = check_send_if(send_if)
    if row_count < 0:
        raise ValueError(f"row_count must be >= 0, got {row_count}")
    if policy is SendIf.ALWAYS:
        return True
    if policy is SendIf.ROWS:
        return row_count > 0
    return row_count == 0


def format_duration(seconds: float) -> str:
    """A run's duration for people: ``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 0:
        raise ValueError(f"duration must be >= 0, got {seconds}")
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_size(size: int) -> str:
    """A file's or message's size for people: ``512 bytes``, ``47.5 KB``, ``20.0 MB``
    (the email's list of attached files, its notes and errors about the size limit)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024**2:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024**2:.1f} MB"
