"""The HTTP API's settings (src/services/webhook/settings.py), and the docs that list them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from src.core.errors import ConfigError
from src.services.webhook import WebhookSettings
from src.services.webhook.settings import Listen, parse_listen
from tests.servers import ROOT

TOKEN = "a" * 8 + "b" * 32


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8080", Listen("127.0.0.1", 8080)),
        ("0.0.0.0:9000", Listen("0.0.0.0", 9000)),
        (":8080", Listen("127.0.0.1", 8080)),
        ("8080", Listen("127.0.0.1", 8080)),
        ("[::1]:8080", Listen("::1", 8080)),
        ("localhost:8080", Listen("localhost", 8080)),
    ],
)
def test_parse_listen(text: str, expected: Listen) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "is not an address; use HOST:PORT such as HTTP_LISTEN=127.0.0.1:8080"),
        ("127.0.0.1:http", "the port must be a number from 1 to 65535"),
        ("127.0.0.1:70000", "the port must be a number from 1 to 65535"),
        ("127.0.0.1:808²", "the port must be a number from 1 to 65535"),  # isdigit says yes
        ("127.0.0.1:" + "9" * 5000, "the port must be a number from 1 to 65535"),
        ("٣٣٣٣", "is not an address"),
        ("example.com:8080", "'example.com' is not an IP address"),
        ("[::1]8080", "is not an address"),
    ],
)
def test_parse_listen_refuses(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_listen(text)


def test_api_off_without_an_address(tmp_path: Path) -> None:
    assert WebhookSettings.from_env({"WEBHOOK_TOKEN": TOKEN}, tmp_path) is None


def test_api_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the HTTP API needs WEBHOOK_TOKEN, and it is not set"):
        WebhookSettings.from_env({"HTTP_LISTEN": "127.0.0.1:8080"}, tmp_path)


def test_api_refuses_a_short_token(tmp_path: Path) -> None:
    env = {"HTTP_LISTEN": "127.0.0.1:8080", "WEBHOOK_TOKEN": "x" * 31}
    with pytest.raises(ConfigError) as caught:
        WebhookSettings.from_env(env, tmp_path)
    assert str(caught.value) == (
        "WEBHOOK_TOKEN is 31 characters long; at least 32 are required; generate one with "
        "`openssl rand -hex 32` and put WEBHOOK_TOKEN=<it> in .env"
    )
    with pytest.raises(ConfigError, match="at least 32"):
        WebhookSettings(Listen("127.0.0.1", 0), "short", tmp_path / "k.jsonl")


def test_settings_from_env(tmp_path: Path) -> None:
    env = {
        "HTTP_LISTEN": "127.0.0.1:8080",
        "WEBHOOK_TOKEN": f"  {TOKEN}  ",
        "WEBHOOK_ALLOW_QUERY_TOKEN": "yes",
        "WEBHOOK_HMAC_SECRET": "s" * 16,
        "WEBHOOK_RATE_LIMIT": "30",
        "WEBHOOK_PUBLIC_URL": "https://reports.example.com/",
        "HTTP_TRUSTED_PROXY": "127.0.0.1",
        "METRICS_PUBLIC": "1",
    }
    settings = WebhookSettings.from_env(env, tmp_path, listen="0.0.0.0:9000")
    assert settings is not None
    assert settings.listen == Listen("0.0.0.0", 9000)  # --http wins over HTTP_LISTEN
    assert settings.token == TOKEN
    assert settings.allow_query_token and settings.metrics_public
    assert settings.rate_limit_per_minute == 30
    assert settings.public_url == "https://reports.example.com"
    assert settings.idempotency_path == tmp_path / "webhook" / "idempotency.jsonl"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WEBHOOK_ALLOW_QUERY_TOKEN", "maybe", "is not true or false"),
        ("WEBHOOK_HMAC_SECRET", "short", "WEBHOOK_HMAC_SECRET is 5 characters long"),
        ("WEBHOOK_RATE_LIMIT", "-1", "is not a number of at least 0"),
        ("WEBHOOK_PUBLIC_URL", "reports.example.com", "is not a base URL"),
        ("HTTP_TRUSTED_PROXY", "proxy.local", "is not an IP address"),
        ("WEBHOOK_MAX_BODY_BYTES", "10", "is not a number of at least 1024"),
    ],
)
def test_bad_settings_say_which(tmp_path: Path, name: str, value: str, message: str) -> None:
    env = {"HTTP_LISTEN": "8080", "WEBHOOK_TOKEN": TOKEN, name: value}
    with pytest.raises(ConfigError, match=message):
        WebhookSettings.from_env(env, tmp_path)


# --- the docs ------------------------------------------------------------------------------

DOCS = ROOT / "docs" / "webhook.md"


def test_docs_list_every_setting() -> None:
    from src.services.webhook import settings as module

    names = re.findall(r"^\| ``([A-Z_]+)`` \|", module.__doc__ or "", re.MULTILINE)
    assert len(names) >= 11
    text = DOCS.read_text(encoding="utf-8")
    for name in names:
        assert f"| `{name}` |" in text, name
