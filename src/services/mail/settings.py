"""SMTP settings read from the environment (the caller loads ``.env`` into a mapping).

With no ``SMTP_HOST`` the mail service writes each message as an ``.eml`` file into
``OUTBOX_DIR`` instead of sending it: the embedded default, so a fresh install works
without a mail server and a person can open the files to see what would be sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from src.core.email_rules import parse_address
from src.core.errors import ConfigError, ValidationError
from src.services.envparse import env_int

SECURITY_CHOICES = ("starttls", "ssl", "none")

#: Port used when SMTP_PORT is not set: the standard submission port of each mode.
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

#: Ports whose mode is fixed by their standard (RFC 8314 section 7.3: 465 is implicit
#: TLS; RFC 6409 / RFC 5321: 587 and 25 start in plain text, TLS only after STARTTLS).
#: The wrong mode there is never a working set-up: starttls on 465 waits for a greeting
#: the TLS server never sends (a timeout that looked transient), ssl on 587 or 25 sends
#: a TLS hello to a server that answers in plain text.
_PORT_MODES = {465: ("ssl",), 587: ("starttls", "none"), 25: ("starttls", "none")}

#: Seconds one SMTP operation (connect, a command, a reply) may take before giving up.
DEFAULT_TIMEOUT = 30.0

#: Encoded message size limit: 20 MiB stays under the usual 25 MB limit of big providers
#: once their own headers are added.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

#: Where messages go when no SMTP server is configured (relative to the project folder).
DEFAULT_OUTBOX_DIR = "outbox"

#: Days an outbox message is kept: the outbox stands in for a mail server, so a week is
#: enough to look at what was sent, and the demo (a message a minute, ~170 MB a day)
#: stays bounded instead of growing forever.
DEFAULT_OUTBOX_KEEP_DAYS = 7

_SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail. ``host`` None means: write to the outbox folder."""

    host: str | None = None
    port: int = DEFAULT_PORTS["starttls"]
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    from_addr: str = "db-scheduler@localhost"
    from_name: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    outbox_dir: Path = Path(DEFAULT_OUTBOX_DIR)
    outbox_keep_days: int = DEFAULT_OUTBOX_KEEP_DAYS
    ca_file: Path | None = None
    helo_name: str | None = None

    @property
    def uses_outbox(self) -> bool:
        """True when messages are written to ``outbox_dir`` rather than sent."""
        return self.host is None

    def describe(self) -> str:
        """One line for people (never shows the password)."""
        if self.host is None:
            return f"no SMTP_HOST set: messages are written to {self.outbox_dir}"
        login = f", login {self.user}" if self.user else ", no login"
        ca = f", CA file {self.ca_file}" if self.ca_file else ""
        return f"SMTP {self.host}:{self.port} ({self.security}{login}{ca})"

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path | None = None) -> SmtpSettings:
        """Read the settings from ``env``; an empty value counts as not set.

        ``base_dir`` anchors a relative ``OUTBOX_DIR`` / ``SMTP_CA_FILE`` (the project
        folder), so the daemon and the CLI agree whatever their working directory.
        Raises ConfigError naming the variable, the bad value and what is accepted.
        """

        def get(name: str) -> str | None:
            value = env.get(name)
            if value is None or value.strip() == "":
                return None
            return value.strip()

        def path(value: str) -> Path:
            p = Path(value).expanduser()
            if base_dir is not None and not p.is_absolute():
                p = base_dir / p
            return p

        host = get("SMTP_HOST")
        port_text = get("SMTP_PORT")
        port = _parse_port(port_text) if port_text is not None else None

        security_text = get("SMTP_SECURITY")
        if security_text is None:
            # Port 465 only ever speaks implicit TLS: a user who set just the port means ssl.
            security = "ssl" if port == 465 else "starttls"
        else:
            security = security_text.lower()
            if security not in SECURITY_CHOICES:
                raise ConfigError(
                    f"SMTP_SECURITY={security_text!r} is not accepted; use one of: "
                    + ", ".join(SECURITY_CHOICES)
                    + " (starttls on port 587, ssl on port 465, none on port 25)"
                )
        if port is None:
            port = DEFAULT_PORTS[security]
        _check_port_mode(port, security)

        user = get("SMTP_USER")
        password = env.get("SMTP_PASSWORD") or None  # a password may legitimately have spaces
        if user and password is None:
            raise ConfigError(
                f"SMTP_USER={user!r} is set but SMTP_PASSWORD is empty; set both to log in, "
                "or neither for a server that accepts mail without login"
            )
        if password is not None and not user:
            raise ConfigError(
                "SMTP_PASSWORD is set but SMTP_USER is empty; set the login name in SMTP_USER"
            )

        from_name = get("SMTP_FROM_NAME")
        if from_name is not None and any(ch in from_name for ch in "\r\n"):
            raise ConfigError("SMTP_FROM_NAME contains a line break; use a single line")

        from_text = get("SMTP_FROM")
        if from_text is None and host is not None and user and "@" in user:
            from_text = user  # most providers require From to be the login address
        if from_text is None and host is not None:
            raise ConfigError(
                "SMTP_FROM is not set; set the sender address, e.g. "
                "SMTP_FROM=reports@example.com (SMTP_HOST is set, so mail is sent)"
            )
        if from_text is None:
            # Outbox only: nothing is sent, so a placeholder sender is enough.
            from_addr = cls.from_addr
        else:
            name_in_from, from_addr = _config_address(from_text, "SMTP_FROM")
            from_name = from_name or name_in_from or None

        timeout_text = get("SMTP_TIMEOUT")
        timeout = DEFAULT_TIMEOUT if timeout_text is None else _parse_timeout(timeout_text)

        max_text = get("EMAIL_MAX_BYTES")
        max_bytes = DEFAULT_MAX_BYTES if max_text is None else parse_size(max_text)

        outbox_dir = path(get("OUTBOX_DIR") or DEFAULT_OUTBOX_DIR)
        outbox_keep_days = env_int(env, "OUTBOX_KEEP_DAYS", DEFAULT_OUTBOX_KEEP_DAYS, minimum=1)

        ca_text = get("SMTP_CA_FILE")
        ca_file = None
        if ca_text is not None:
            ca_file = path(ca_text)
            if not ca_file.is_file():
                raise ConfigError(
                    f"SMTP_CA_FILE={ca_text!r}: no such file ({ca_file}); give the path of the "
                    "PEM file holding your private CA certificate"
                )

        helo_text = get("SMTP_HELO_NAME")
        helo_name = None if helo_text is None else _helo_name(helo_text)
        return cls(
            host=host,
            port=port,
            security=security,
            user=user,
            password=password,
            from_addr=from_addr,
            from_name=from_name,
            timeout=timeout,
            max_bytes=max_bytes,
            outbox_dir=outbox_dir,
            outbox_keep_days=outbox_keep_days,
            ca_file=ca_file,
            helo_name=helo_name,
        )


def parse_size(text: str, name: str = "EMAIL_MAX_BYTES") -> int:
    """``20971520``, ``20MB``, ``500 KB``, ``1.5M`` -> bytes (K/M/G are powers of 1024)."""
    match = _SIZE_RE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ConfigError(
            f"{name}={text!r} is not a size; use a number of bytes (20971520) or a number "
            "with KB, MB or GB (20MB)"
        )
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 1024:
        raise ConfigError(f"{name}={text!r} is too small; use at least 1KB (default 20MB)")
    return size


def _parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(
            f"SMTP_PORT={text!r} is not a port number; use 1-65535 "
            "(587 for starttls, 465 for ssl, 25 for none)"
        )
    return port


def _check_port_mode(port: int, security: str) -> None:
    modes = _PORT_MODES.get(port)
    if modes is None or security in modes:
        return
    if port == 465:
        raise ConfigError(
            f"SMTP_PORT=465 with SMTP_SECURITY={security}: port 465 speaks TLS from the first "
            "byte (implicit TLS, RFC 8314); set SMTP_SECURITY=ssl, or SMTP_PORT=587 for starttls"
        )
    raise ConfigError(
        f"SMTP_PORT={port} with SMTP_SECURITY=ssl: port {port} starts in plain text and "
        "switches to TLS with STARTTLS; set SMTP_SECURITY=starttls, or SMTP_PORT=465 for ssl"
    )


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _helo_name(text: str) -> str:
    """The EHLO argument: a domain in ASCII (RFC 5321 4.1.2), so an internationalized name
    is sent as its A-labels (``bücher.example`` -> ``xn--bcher-kva.example``), or an
    address literal (``[192.0.2.1]``)."""
    if text.startswith("[") and text.endswith("]") and text.isascii() and " " not in text:
        return text
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.rstrip(".").split(".")
    if not ascii_name or not all(_HOST_LABEL.match(label) for label in labels):
        raise ConfigError(
            f"SMTP_HELO_NAME={text!r} is not a host name; use this machine's name, e.g. "
            "reports.example.com (letters, digits, hyphens and dots; international names are "
            "sent in their xn-- form), or leave it empty for the host name"
        )
    return ascii_name


def _parse_timeout(text: str) -> float:
    try:
        timeout = float(text)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 3600:
        raise ConfigError(
            f"SMTP_TIMEOUT={text!r} is not accepted; use a number of seconds between 0 and "
            f"3600 (default {DEFAULT_TIMEOUT:g})"
        )
    return timeout


def _config_address(text: str, name: str) -> tuple[str, str]:
    try:
        return parse_address(text, name)
    except ValidationError as exc:
        raise ConfigError(f"{name}={text!r} is not accepted: {exc.message}") from None
