"""What `manage_tasks.py webhook-url` prints (src/services/webhook/urls.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from src.core.errors import ConfigError
from src.core.task import Task
from src.services.webhook.security import sign
from src.services.webhook.urls import webhook_instructions

TOKEN = "a" * 8 + "b" * 32


# --- webhook-url -------------------------------------------------------------------------------


def make_task(**extra: Any) -> Task:
    data = {
        "id": "3f2a9c1e-0000-4000-8000-000000000001",
        "name": "Daily sales",
        "query": "SELECT 1",
        "schedule": {"cron": "0 9 * * *"},
        **extra,
    }
    return Task.from_dict(data)


def test_webhook_url_masks_the_token_by_default() -> None:
    env = {"HTTP_LISTEN": "127.0.0.1:8080", "WEBHOOK_TOKEN": TOKEN}
    out = webhook_instructions(make_task(), env)
    url = "http://127.0.0.1:8080/api/tasks/3f2a9c1e-0000-4000-8000-000000000001/run"
    assert out.url == url
    assert out.curl == f"curl -fsS -X POST -H 'Authorization: Bearer aaaa********' {url}"
    assert TOKEN not in "\n".join(out.lines())
    assert "the token is masked; add --show-token to print it" in out.notes
    assert out.query_url is None


def test_webhook_url_shows_the_token_when_asked_behind_a_proxy() -> None:
    env = {
        "HTTP_LISTEN": "0.0.0.0:8080",
        "WEBHOOK_TOKEN": TOKEN,
        "WEBHOOK_PUBLIC_URL": "https://reports.example.com",
        "WEBHOOK_ALLOW_QUERY_TOKEN": "true",
    }
    out = webhook_instructions(make_task(), env, show_token=True)
    assert out.url.startswith("https://reports.example.com/api/tasks/3f2a9c1e")
    assert f"Bearer {TOKEN}" in out.curl
    assert out.query_url == f"{out.url}?token={TOKEN}"
    assert any("shows in proxy and access logs" in note for note in out.notes)


def test_webhook_url_signs_the_empty_body_when_hmac_is_on() -> None:
    secret = "k" * 20
    env = {"HTTP_LISTEN": "8080", "WEBHOOK_TOKEN": TOKEN, "WEBHOOK_HMAC_SECRET": secret}
    shown = webhook_instructions(make_task(), env, show_token=True)
    assert f"-H 'X-Signature: {sign(b'', secret)}'" in shown.curl
    masked = webhook_instructions(make_task(), env)
    assert sign(b"", secret) not in masked.curl


def test_webhook_url_when_the_api_is_off_or_the_task_opted_out() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("the HTTP API is off: set HTTP_LISTEN=127.0.0.1:8080")
    ):
        webhook_instructions(make_task(), {"WEBHOOK_TOKEN": TOKEN})
    with pytest.raises(ConfigError, match="WEBHOOK_TOKEN, and it is not set"):
        webhook_instructions(make_task(), {"HTTP_LISTEN": "8080"})
    env = {"HTTP_LISTEN": "8080", "WEBHOOK_TOKEN": TOKEN}
    out = webhook_instructions(make_task(webhook=False), env)
    assert "task 'Daily sales' has webhook: false; calls are refused with 403" in out.notes
