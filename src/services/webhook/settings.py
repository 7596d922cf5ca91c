"""The HTTP API's settings, read from .env / the environment; defaults with their reasons.

The API is off unless ``HTTP_LISTEN`` (or the daemon's ``--http``) names an address.

| Variable | Default | Meaning |
|---|---|---|
| ``HTTP_LISTEN`` | off | ``HOST:PORT`` to listen on; ``8080`` alone means ``127.0.0.1:8080``. |
| ``WEBHOOK_TOKEN`` | none | Bearer token, at least 32 characters; required to turn the API on. |
| ``WEBHOOK_ALLOW_QUERY_TOKEN`` | ``false`` | Also accept ``?token=`` (shows in proxy logs). |
| ``WEBHOOK_HMAC_SECRET`` | none | When set, trigger calls must sign their body (``X-Signature``). |
| ``WEBHOOK_RATE_LIMIT`` | ``10`` | Trigger calls per minute per client address (0: no limit). |
| ``WEBHOOK_MAX_BODY_BYTES`` | ``65536`` | Larger request bodies are refused with 413. |
| ``WEBHOOK_IDEMPOTENCY_HOURS`` | ``24`` | How long an ``Idempotency-Key`` is remembered. |
| ``WEBHOOK_PUBLIC_URL`` | none | The URL the API is reached at (behind a proxy), for status URLs. |
| ``HTTP_TRUSTED_PROXY`` | none | The reverse proxy's address; its ``X-Forwarded-*`` are believed. |
| ``METRICS_PUBLIC`` | ``false`` | Serve ``/metrics`` without the token. |
| ``HEALTH_MAX_TICK_AGE`` | ``60`` | Seconds without a scheduler tick before ``/health`` says 503. |
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from src.core.errors import ConfigError
from src.services.envparse import env_bool, env_number

#: Loopback unless told otherwise: the public internet goes through a TLS reverse proxy.
DEFAULT_HOST = "127.0.0.1"
#: 32 characters of a random token (e.g. `openssl rand -hex 32` gives 64) is beyond guessing.
MIN_TOKEN_LENGTH = 32
#: A shared HMAC secret shorter than this is guessable offline from one signed request.
MIN_HMAC_SECRET_LENGTH = 16
#: A cron service calls once per schedule; ten a minute leaves room for retries and tests.
RATE_LIMIT_PER_MINUTE = 10
#: Trigger calls carry no payload worth more; anything bigger is abuse.
MAX_BODY_BYTES = 64 * 1024
#: Cron services retry for minutes to hours; a day covers every retry policy seen.
IDEMPOTENCY_HOURS = 24.0
#: The loop ticks at least twice a second; a minute without one is a stuck daemon, not load.
HEALTH_MAX_TICK_AGE = 60.0


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(text: str, name: str = "HTTP_LISTEN") -> Listen:
    """``127.0.0.1:8080``, ``0.0.0.0:8080``, ``[::1]:8080``, ``:8080`` or ``8080``."""
    value = text.strip()
    example = f"use HOST:PORT such as {name}=127.0.0.1:8080"
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ConfigError(f"{name}={text!r} is not an address; {example} or [::1]:8080")
        port_text = rest[1:]
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    elif value.isascii() and value.isdigit():
        host, port_text = "", value
    else:
        raise ConfigError(f"{name}={text!r} is not an address; {example}")
    host = host.strip() or DEFAULT_HOST
    if (
        not (port_text.isascii() and port_text.isdigit())  # '²' passes isdigit alone
        or len(port_text) > 5
        or not 0 <= int(port_text) <= 65535
    ):
        raise ConfigError(f"{name}={text!r}: the port must be a number from 1 to 65535; {example}")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                f"{name}={text!r}: {host!r} is not an IP address; give the address of an "
                "interface (127.0.0.1 for this machine only, 0.0.0.0 for all)"
            ) from None
    return Listen(host, int(port_text))


def check_token(token: str | None) -> str:
    """The token, or a ConfigError saying how to make a good one."""
    value = (token or "").strip()
    how = "generate one with `openssl rand -hex 32` and put WEBHOOK_TOKEN=<it> in .env"
    if not value:
        raise ConfigError(f"the HTTP API needs WEBHOOK_TOKEN, and it is not set; {how}")
    if len(value) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"WEBHOOK_TOKEN is {len(value)} characters long; at least {MIN_TOKEN_LENGTH} are "
            f"required; {how}"
        )
    return value


def check_public_url(text: str, name: str = "WEBHOOK_PUBLIC_URL") -> str:
    value = text.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"{name}={text!r} is not a base URL; use e.g. https://reports.example.com "
            "(the address the reverse proxy serves the API at)"
        )
    return value


@dataclass(frozen=True)
class WebhookSettings:
    listen: Listen
    token: str
    idempotency_path: Path
    allow_query_token: bool = False
    hmac_secret: str | None = None
    rate_limit_per_minute: float = RATE_LIMIT_PER_MINUTE
    max_body_bytes: int = MAX_BODY_BYTES
    idempotency_hours: float = IDEMPOTENCY_HOURS
    public_url: str | None = None
    trusted_proxy: str | None = None
    metrics_public: bool = False
    health_max_tick_age: float = HEALTH_MAX_TICK_AGE

    def __post_init__(self) -> None:
        check_token(self.token)
        if self.hmac_secret is not None and len(self.hmac_secret) < MIN_HMAC_SECRET_LENGTH:
            raise ConfigError(
                f"WEBHOOK_HMAC_SECRET is {len(self.hmac_secret)} characters long; at least "
                f"{MIN_HMAC_SECRET_LENGTH} are required (e.g. `openssl rand -hex 32`)"
            )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], data_dir: Path, *, listen: str | None = None
    ) -> WebhookSettings | None:
        """The settings, or None when the API is off (no ``listen`` and no HTTP_LISTEN).

        ``listen`` is the daemon's ``--http HOST:PORT``; it wins over HTTP_LISTEN.
        Raises ConfigError when the API is on but WEBHOOK_TOKEN is missing or short.
        """
        where = "--http" if listen else "HTTP_LISTEN"
        text = (listen or env.get("HTTP_LISTEN") or "").strip()
        if not text:
            return None
        address = parse_listen(text, where)
        secret = (env.get("WEBHOOK_HMAC_SECRET") or "").strip() or None
        public = (env.get("WEBHOOK_PUBLIC_URL") or "").strip()
        proxy = (env.get("HTTP_TRUSTED_PROXY") or "").strip() or None
        if proxy is not None:
            try:
                ipaddress.ip_address(proxy)
            except ValueError:
                raise ConfigError(
                    f"HTTP_TRUSTED_PROXY={proxy!r} is not an IP address; give the address the "
                    "reverse proxy connects from, e.g. 127.0.0.1"
                ) from None
        return cls(
            listen=address,
            token=check_token(env.get("WEBHOOK_TOKEN")),
            idempotency_path=data_dir / "webhook" / "idempotency.jsonl",
            allow_query_token=env_bool(env, "WEBHOOK_ALLOW_QUERY_TOKEN"),
            hmac_secret=secret,
            rate_limit_per_minute=env_number(env, "WEBHOOK_RATE_LIMIT", RATE_LIMIT_PER_MINUTE, 0),
            max_body_bytes=int(env_number(env, "WEBHOOK_MAX_BODY_BYTES", MAX_BODY_BYTES, 1024)),
            idempotency_hours=env_number(env, "WEBHOOK_IDEMPOTENCY_HOURS", IDEMPOTENCY_HOURS, 1),
            public_url=check_public_url(public) if public else None,
            trusted_proxy=proxy,
            metrics_public=env_bool(env, "METRICS_PUBLIC"),
            health_max_tick_age=env_number(env, "HEALTH_MAX_TICK_AGE", HEALTH_MAX_TICK_AGE, 1),
        )
