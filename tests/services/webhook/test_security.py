"""Who may call (src/services/webhook/security.py): the bearer token, the body signature
(and the openssl line the docs give for it), the rate limit."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from src.services.webhook.security import RateLimiter, bearer_token, check_signature, sign
from tests.servers import ROOT

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


# --- the docs ------------------------------------------------------------------------------

DOCS = ROOT / "docs" / "webhook.md"


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
