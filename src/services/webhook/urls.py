"""What `manage_tasks.py webhook-url ID` prints: the trigger URL and a curl line to paste.

The token comes from .env and is shown masked unless asked for, so the output can
be pasted into a ticket or a chat without leaking it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from src.core.errors import ConfigError
from src.core.task import Task
from src.services.webhook.security import sign
from src.services.webhook.settings import (
    DEFAULT_HOST,
    check_public_url,
    check_token,
    parse_listen,
)

#: Characters of the token left visible when masked: enough to tell two tokens apart.
VISIBLE_TOKEN_CHARS = 4


def mask_token(token: str) -> str:
    """``abcd********``: the first characters, then a fixed run of stars (no length hint)."""
    return token[:VISIBLE_TOKEN_CHARS] + "*" * 8


@dataclass(frozen=True)
class WebhookInstructions:
    url: str
    curl: str
    token_shown: bool
    #: the URL with ?token=, only when WEBHOOK_ALLOW_QUERY_TOKEN is on
    query_url: str | None = None
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = [f"URL:  {self.url}", "Method: POST", f"curl: {self.curl}"]
        if self.query_url:
            out.append(
                f"URL with the token (for services that cannot set headers): {self.query_url}"
            )
        out += [f"Note: {note}" for note in self.notes]
        return out


def base_url(env: Mapping[str, str]) -> str:
    """WEBHOOK_PUBLIC_URL, else the address the daemon listens on (HTTP_LISTEN)."""
    public = (env.get("WEBHOOK_PUBLIC_URL") or "").strip()
    if public:
        return check_public_url(public)
    listen_text = (env.get("HTTP_LISTEN") or "").strip()
    if not listen_text:
        raise ConfigError(
            "the HTTP API is off: set HTTP_LISTEN=127.0.0.1:8080 in .env (or start the daemon "
            "with --http 127.0.0.1:8080), and WEBHOOK_PUBLIC_URL=https://... when a reverse "
            "proxy serves it"
        )
    listen = parse_listen(listen_text)
    host = DEFAULT_HOST if listen.host in ("0.0.0.0", "::") else listen.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{listen.port}"


def webhook_instructions(
    task: Task, env: Mapping[str, str], *, show_token: bool = False
) -> WebhookInstructions:
    """The trigger URL of ``task`` (by id: stable across renames) and how to call it."""
    token = check_token(env.get("WEBHOOK_TOKEN"))
    shown = token if show_token else mask_token(token)
    base = base_url(env)
    url = f"{base}/api/tasks/{quote(task.id, safe='')}/run"
    headers = [f"Authorization: Bearer {shown}"]
    secret = (env.get("WEBHOOK_HMAC_SECRET") or "").strip()
    if secret:
        # the signature of the empty body the curl line sends
        signature = sign(b"", secret)
        headers.append(f"X-Signature: {signature if show_token else mask_token(signature)}")
    options = " ".join(f"-H {shlex.quote(header)}" for header in headers)
    curl = f"curl -fsS -X POST {options} {shlex.quote(url)}"
    notes: list[str] = []
    if not show_token:
        notes.append("the token is masked; add --show-token to print it")
    if not task.webhook:
        notes.append(f"task {task.name!r} has webhook: false; calls are refused with 403")
    if not (env.get("WEBHOOK_PUBLIC_URL") or "").strip():
        notes.append(
            "this is the daemon's own address; from the internet, put a TLS reverse proxy in "
            "front and set WEBHOOK_PUBLIC_URL (see docs/webhook.md)"
        )
    query_url = None
    allow_query = (env.get("WEBHOOK_ALLOW_QUERY_TOKEN") or "").strip().lower()
    if allow_query in ("1", "true", "yes", "on"):
        query_url = f"{url}?token={quote(shown, safe='*')}"
        notes.append("a token in the URL shows in proxy and access logs; prefer the header")
    if secret:
        notes.append(
            "WEBHOOK_HMAC_SECRET is set: each call sends X-Signature, the HMAC-SHA256 of its "
            "body (the one above is for an empty body; see docs/webhook.md)"
        )
    return WebhookInstructions(url, curl, show_token, query_url, tuple(notes))
