"""SMTP settings from the environment (src/services/mail/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.core.errors import ConfigError
from src.services.mail.settings import DEFAULT_MAX_BYTES, SmtpSettings, parse_size


def test_empty_environment_means_outbox_with_defaults(tmp_path: Path) -> None:
    settings = SmtpSettings.from_env({}, base_dir=tmp_path)
    assert settings.uses_outbox
    assert settings.outbox_dir == tmp_path / "outbox"
    assert settings.timeout == 30
    assert settings.max_bytes == 20 * 1024 * 1024 == DEFAULT_MAX_BYTES
    assert "outbox" in settings.describe()


def test_empty_values_count_as_unset() -> None:
    settings = SmtpSettings.from_env({"SMTP_HOST": "", "SMTP_PORT": " ", "OUTBOX_DIR": ""})
    assert settings.uses_outbox
    assert settings.outbox_dir == Path("outbox")


@pytest.mark.parametrize(
    ("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25), ("SSL", 465)]
)
def test_port_defaults_by_security(security: str, port: int) -> None:
    env = {"SMTP_HOST": "mail.example.com", "SMTP_SECURITY": security, "SMTP_FROM": "r@example.com"}
    settings = SmtpSettings.from_env(env)
    assert (settings.security, settings.port) == (security.lower(), port)


def test_port_465_alone_means_ssl() -> None:
    env = {"SMTP_HOST": "mail.example.com", "SMTP_PORT": "465", "SMTP_FROM": "r@example.com"}
    assert SmtpSettings.from_env(env).security == "ssl"


def test_full_settings_and_password_kept_out_of_repr(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {
        "SMTP_HOST": "mail.example.com",
        "SMTP_PORT": "2525",
        "SMTP_SECURITY": "starttls",
        "SMTP_USER": "bot@example.com",
        "SMTP_PASSWORD": "hunter2 with spaces",
        "SMTP_FROM": "Reports <reports@Example.COM>",
        "SMTP_TIMEOUT": "7.5",
        "EMAIL_MAX_BYTES": "5MB",
        "OUTBOX_DIR": "/var/spool/reports",
        "SMTP_CA_FILE": "ca.pem",
    }
    settings = SmtpSettings.from_env(env, base_dir=tmp_path)
    assert settings.port == 2525
    assert settings.password == "hunter2 with spaces"
    assert settings.from_addr == "reports@example.com"
    assert settings.from_name == "Reports"
    assert settings.timeout == 7.5
    assert settings.max_bytes == 5 * 1024 * 1024
    assert settings.outbox_dir == Path("/var/spool/reports")
    assert settings.ca_file == ca
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.describe()


def test_from_defaults_to_login_address() -> None:
    env = {"SMTP_HOST": "h.example.com", "SMTP_USER": "bot@example.com", "SMTP_PASSWORD": "p"}
    assert SmtpSettings.from_env(env).from_addr == "bot@example.com"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SMTP_SECURITY": "tls"}, ["SMTP_SECURITY='tls'", "starttls, ssl, none"]),
        ({"SMTP_PORT": "smtp"}, ["SMTP_PORT='smtp'", "1-65535"]),
        ({"SMTP_PORT": "70000"}, ["SMTP_PORT='70000'", "1-65535"]),
        ({"SMTP_TIMEOUT": "-1"}, ["SMTP_TIMEOUT='-1'", "seconds"]),
        ({"SMTP_TIMEOUT": "soon"}, ["SMTP_TIMEOUT='soon'", "seconds"]),
        ({"EMAIL_MAX_BYTES": "lots"}, ["EMAIL_MAX_BYTES='lots'", "20MB"]),
        ({"EMAIL_MAX_BYTES": "5 parsecs"}, ["EMAIL_MAX_BYTES='5 parsecs'", "MB"]),
        ({"EMAIL_MAX_BYTES": "10"}, ["EMAIL_MAX_BYTES='10'", "at least 1KB"]),
        ({"SMTP_FROM": "not-an-address"}, ["SMTP_FROM='not-an-address'", "@-sign"]),
        ({"SMTP_USER": "bob"}, ["SMTP_USER='bob'", "SMTP_PASSWORD"]),
        ({"SMTP_PASSWORD": "x"}, ["SMTP_USER"]),
        ({"SMTP_CA_FILE": "/nonexistent/ca.pem"}, ["SMTP_CA_FILE", "/nonexistent/ca.pem", "PEM"]),
        ({"SMTP_FROM_NAME": "A\nB"}, ["SMTP_FROM_NAME", "line break"]),
    ],
)
def test_bad_settings_name_variable_value_and_what_is_accepted(
    env: dict[str, str], expected: list[str]
) -> None:
    full = {"SMTP_HOST": "mail.example.com", "SMTP_FROM": "r@example.com", **env}
    with pytest.raises(ConfigError) as info:
        SmtpSettings.from_env(full)
    for part in expected:
        assert part in str(info.value)


def test_host_without_sender_is_refused() -> None:
    with pytest.raises(ConfigError, match="SMTP_FROM is not set"):
        SmtpSettings.from_env({"SMTP_HOST": "mail.example.com"})


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1048576), ("20MB", 20 * 1024**2), ("500 kb", 500 * 1024), ("1.5M", 1572864)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("port", "security", "message"),
    [
        ("465", "starttls", "SMTP_PORT=465 with SMTP_SECURITY=starttls: port 465 speaks TLS from "
         "the first byte (implicit TLS, RFC 8314); set SMTP_SECURITY=ssl, or SMTP_PORT=587 for "
         "starttls"),
        ("465", "none", "SMTP_PORT=465 with SMTP_SECURITY=none: port 465 speaks TLS from "
         "the first byte (implicit TLS, RFC 8314); set SMTP_SECURITY=ssl, or SMTP_PORT=587 for "
         "starttls"),
        ("587", "ssl", "SMTP_PORT=587 with SMTP_SECURITY=ssl: port 587 starts in plain text and "
         "switches to TLS with STARTTLS; set SMTP_SECURITY=starttls, or SMTP_PORT=465 for ssl"),
        ("25", "ssl", "SMTP_PORT=25 with SMTP_SECURITY=ssl: port 25 starts in plain text and "
         "switches to TLS with STARTTLS; set SMTP_SECURITY=starttls, or SMTP_PORT=465 for ssl"),
    ],
)  # fmt: skip
def test_a_mode_the_standard_port_never_speaks_is_refused(
    port: str, security: str, message: str
) -> None:
    env = {"SMTP_HOST": "mail.example.com", "SMTP_FROM": "r@example.com"}
    with pytest.raises(ConfigError) as info:
        SmtpSettings.from_env({**env, "SMTP_PORT": port, "SMTP_SECURITY": security})
    assert str(info.value) == message


def test_helo_name_is_sent_in_ascii_or_refused() -> None:
    env = {"SMTP_HOST": "mail.example.com", "SMTP_FROM": "r@example.com"}
    assert SmtpSettings.from_env({**env, "SMTP_HELO_NAME": "bücher.example"}).helo_name == (
        "xn--bcher-kva.example"
    )
    with pytest.raises(ConfigError) as info:
        SmtpSettings.from_env({**env, "SMTP_HELO_NAME": "my host"})
    assert str(info.value) == (
        "SMTP_HELO_NAME='my host' is not a host name; use this machine's name, e.g. "
        "reports.example.com (letters, digits, hyphens and dots; international names are sent "
        "in their xn-- form), or leave it empty for the host name"
    )
