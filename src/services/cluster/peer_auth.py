"""Node-to-node trust: a request one node signs for another with the cluster's secret.

Users, tokens and sessions are each node's own (``data/auth/``), so a node that fetches
a peer's file for its caller cannot pass the caller's credentials on. It signs the
request instead:

* **The secret** is 32 random bytes, kept in the cluster database (``scheduler_meta``,
  key ``peer_secret``): every node that can claim runs can read it, and nothing else
  needs to be set up. The first node that needs it creates it, in one transaction
  (``INSERT ... ON CONFLICT DO NOTHING``, then read it back): two nodes racing read the
  one row that won. It is read on each use, so deleting the row rotates it.
* **A signature** is HMAC-SHA256 over the method, the route's path (``/api/runs/<run>/
  files/<name>``, as the route sees it: a proxy's prefix in ``CLUSTER_ADDRESS`` does not
  change it), the expiry (Unix seconds, :data:`PEER_REQUEST_SECONDS` ahead) and the
  signing node's name, JSON-encoded so no two requests sign the same text. It travels in
  :data:`SIGNATURE_HEADER`, with :data:`EXPIRES_HEADER` and :data:`NODE_HEADER`.
* **Checking** recomputes it and compares in constant time (:func:`hmac.compare_digest`);
  an expiry passed, or further ahead than a signer would set it, is refused.

A refusal's message says what was wrong and never holds the secret or a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from src.services.cluster.database import transaction
from src.services.cluster.settings import PEER_REQUEST_SECONDS

SECRET_KEY = "peer_secret"
NODE_HEADER = "X-Scheduler-Node"
EXPIRES_HEADER = "X-Scheduler-Expires"
SIGNATURE_HEADER = "X-Scheduler-Signature"
PEER_HEADERS = (NODE_HEADER, EXPIRES_HEADER, SIGNATURE_HEADER)
#: An expiry this far past a signer's would be is refused: clocks kept by NTP are within
#: a second; a minute covers one that drifted, and no more.
CLOCK_SLACK_SECONDS = 60


class PeerRefused(Exception):
    """A request that says it comes from a peer, and cannot be believed."""


def peer_secret(engine: Engine) -> bytes:
    """The cluster's secret, created by the first node that asks (see the module)."""
    with transaction(engine, "reading the cluster's node-to-node secret") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO scheduler_meta (key, value) VALUES (:k, CAST(:v AS jsonb)) "
                "ON CONFLICT (key) DO NOTHING"
            ),
            {"k": SECRET_KEY, "v": json.dumps(secrets.token_hex(32))},
        )
        # read committed: a row another node committed meanwhile is seen by this statement
        value = conn.execute(
            sa.text("SELECT value #>> '{}' FROM scheduler_meta WHERE key = :k"), {"k": SECRET_KEY}
        ).scalar_one()
    return str(value).encode("ascii")


def signature(secret: bytes, method: str, path: str, expires: int, node: str) -> str:
    text = json.dumps([method.upper(), path, expires, node], ensure_ascii=True)
    return hmac.new(secret, text.encode("ascii"), hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, method: str, path: str, node: str, now: float) -> dict[str, str]:
    """The headers that make ``method path`` a request from ``node``, good for
    :data:`PEER_REQUEST_SECONDS` from ``now`` (Unix seconds)."""
    expires = int(now) + PEER_REQUEST_SECONDS
    return {
        NODE_HEADER: node,
        EXPIRES_HEADER: str(expires),
        SIGNATURE_HEADER: signature(secret, method, path, expires, node),
    }


def says_peer(headers: Mapping[str, str]) -> bool:
    """The request carries any of the peer headers: it must then be a good one."""
    return any(headers.get(name) is not None for name in PEER_HEADERS)


def check_peer(
    secret: bytes, method: str, path: str, headers: Mapping[str, str], now: float
) -> str:
    """The signing node's name; :class:`PeerRefused` saying why the request is not one."""
    node = headers.get(NODE_HEADER) or ""
    expires_text = headers.get(EXPIRES_HEADER) or ""
    given = headers.get(SIGNATURE_HEADER) or ""
    missing = [name for name in PEER_HEADERS if not headers.get(name)]
    if missing:
        raise PeerRefused(f"a node-to-node request needs the headers {', '.join(missing)}")
    if not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12:
        raise PeerRefused(f"{EXPIRES_HEADER} must be a time in Unix seconds")
    expires = int(expires_text)
    if expires < now:
        raise PeerRefused(
            f"the node-to-node request from node {node[:64]!r} expired {now - expires:.0f} s "
            "ago (signed requests are good for "
            f"{PEER_REQUEST_SECONDS} s: keep the nodes' clocks in sync with NTP)"
        )
    if expires > now + PEER_REQUEST_SECONDS + CLOCK_SLACK_SECONDS:
        raise PeerRefused(
            f"the node-to-node request from node {node[:64]!r} expires {expires - now:.0f} s "
            f"from now, past the {PEER_REQUEST_SECONDS} s a node signs for (keep the nodes' "
            "clocks in sync with NTP)"
        )
    expected = signature(secret, method, path, expires, node)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        raise PeerRefused(
            f"the signature of the node-to-node request from node {node[:64]!r} does not "
            "match: it was not signed with this cluster's secret, or not for this file"
        )
    return node
