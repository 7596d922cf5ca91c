"""The webhook package's parts on their own: settings, the webhook-url text, the handoff
to the main thread, the rate limiter, the idempotency file and the server's start."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from src.core.errors import ConfigError
from src.core.task import Task
from src.services.webhook import Handoff, HttpServer, Unavailable, WebhookSettings
from src.services.webhook.idempotency import IdempotencyStore
from src.services.webhook.security import RateLimiter, bearer_token, check_signature, sign
from src.services.webhook.settings import Listen, parse_listen
from src.services.webhook.urls import webhook_instructions

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


# --- security ----------------------------------------------------------------------------------


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_signature_check() -> None:
    secret = "x" * 16
    check_signature(sign(b"body", secret), b"body", secret)
    check_signature(sign(b"body", secret).upper().replace("SHA256=", "sha256="), b"body", secret)
    with pytest.raises(Exception, match="does not match"):
        check_signature(sign(b"other", secret), b"body", secret)


def test_rate_limiter_refills_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0])  # one every 10 s, burst 6
    assert [limiter.allow("a") for _ in range(6)] == [0] * 6
    assert limiter.allow("a") == 10
    assert limiter.allow("b") == 0  # another client, its own bucket
    now[0] += 5
    assert limiter.allow("a") == 5
    now[0] += 5
    assert limiter.allow("a") == 0
    assert limiter.allow("a") == 10


def test_rate_limiter_memory_is_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0], max_clients=100)
    for index in range(1000):
        limiter.allow(f"10.0.{index // 256}.{index % 256}")
    assert len(limiter._buckets) <= 100


def test_rate_limit_zero_means_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.allow("a") == 0 for _ in range(1000))


# --- handoff to the main thread ---------------------------------------------------------------


def test_handoff_runs_on_the_main_thread_and_returns_or_raises() -> None:
    wake = threading.Event()
    handoff = Handoff(wake.set, timeout=30)
    results: list[Any] = []
    threads_seen: list[str] = []

    def ask(fn: Any) -> None:
        try:
            results.append(handoff.call(fn))
        except Exception as exc:
            results.append(exc)

    def on_main() -> str:
        threads_seen.append(threading.current_thread().name)
        return "done"

    def failing() -> str:
        raise ValueError("refused")

    callers = [threading.Thread(target=ask, args=(fn,)) for fn in (on_main, failing)]
    for caller in callers:
        caller.start()
    ran = 0
    while ran < 2:
        assert wake.wait(30), "no call arrived (hang guard)"
        wake.clear()
        ran += handoff.run_pending()
    for caller in callers:
        caller.join(30)
    assert threads_seen == [threading.current_thread().name]
    assert "done" in results
    assert any(isinstance(r, ValueError) and str(r) == "refused" for r in results)


def test_handoff_times_out_when_the_loop_does_not_answer() -> None:
    handoff = Handoff(lambda: None, timeout=0.05)
    ran: list[int] = []
    with pytest.raises(Unavailable, match=re.escape("did not answer within 0.05 s")):
        handoff.call(lambda: ran.append(1))
    assert handoff.run_pending() == 0  # the timed-out call is cancelled, never run later
    assert ran == []


def test_handoff_close_fails_waiting_calls_and_refuses_new_ones() -> None:
    handoff = Handoff(lambda: None, timeout=30)
    errors: list[Exception] = []

    def ask() -> None:
        try:
            handoff.call(lambda: 1)
        except Unavailable as exc:
            errors.append(exc)

    caller = threading.Thread(target=ask)
    caller.start()
    queued = threading.Event()
    for _ in range(3000):  # until the call is queued (hang guard: 30 s)
        if handoff._calls:
            break
        queued.wait(0.01)
    handoff.close()
    caller.join(30)
    assert [str(e) for e in errors] == ["the scheduler is stopping"]
    with pytest.raises(Unavailable):
        handoff.call(lambda: 1)


# --- idempotency file -------------------------------------------------------------------------


def test_idempotency_keys_expire_and_the_file_is_compacted(tmp_path: Path) -> None:
    path = tmp_path / "keys.jsonl"
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    store = IdempotencyStore(path, timedelta(hours=24), clock=lambda: now[0])
    store.remember("task", "old", "run-1")
    now[0] += timedelta(hours=23)
    store.remember("task", "new", "run-2")
    assert store.get("task", "old") is not None
    now[0] += timedelta(hours=2)
    assert store.get("task", "old") is None
    assert store.get("other-task", "new") is None
    with path.open("a") as handle:
        handle.write('{"task_id": "task", "key": "torn"')  # a crash mid-line
    reloaded = IdempotencyStore(path, timedelta(hours=24), clock=lambda: now[0])
    entry = reloaded.get("task", "new")
    assert entry is not None and entry.run_id == "run-2"
    assert reloaded.get("task", "old") is None
    assert len(path.read_text().splitlines()) == 1
    assert path.stat().st_mode & 0o777 == 0o600


# --- the server -------------------------------------------------------------------------------


def test_server_start_on_a_taken_port_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(lambda env, start: [], "127.0.0.1", port)
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}: .*in use"):
            server.start()


def test_server_stops_and_frees_its_port() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    port = server.bound_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.0 200")
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    again = HttpServer(app, "127.0.0.1", port)  # the same port can be bound again
    again.start()
    again.stop()


# --- the docs ------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhook.md"


def test_docs_list_every_setting() -> None:
    from src.services.webhook import settings as module

    names = re.findall(r"^\| ``([A-Z_]+)`` \|", module.__doc__ or "", re.MULTILINE)
    assert len(names) >= 11
    text = DOCS.read_text(encoding="utf-8")
    for name in names:
        assert f"| `{name}` |" in text, name


def test_docs_openssl_line_makes_the_signature_the_server_expects() -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    text = DOCS.read_text(encoding="utf-8")
    assert "openssl dgst -sha256 -hmac \"$WEBHOOK_HMAC_SECRET\" -r | cut -d' ' -f1" in text
    body, secret = '{"source": "ci"}', "k" * 20
    result = subprocess.run(
        [openssl, "dgst", "-sha256", "-hmac", secret, "-r"],
        input=body.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert "sha256=" + result.stdout.decode().split(" ")[0] == sign(body.encode(), secret)
