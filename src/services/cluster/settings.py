"""Cluster mode's settings, read from .env / the environment; defaults with their reasons.

| Variable | Default | Meaning |
|---|---|---|
| ``CLUSTER_DATABASE_URL`` | (unset) | PostgreSQL shared by the nodes; set: cluster mode. |
| ``NODE_NAME`` | the host name | This node's name in claims, run records and ``nodes``. |
| ``CLUSTER_HEARTBEAT_SECONDS`` | ``2`` | How often a node says it is alive. |
| ``CLUSTER_DEAD_AFTER_SECONDS`` | ``15`` | Silent this long: dead, its runs taken over. |
| ``CLUSTER_STATEMENT_TIMEOUT_SECONDS`` | ``5`` | Longest a cluster statement may take. |
| ``CLUSTER_ADDRESS`` | (unset) | The URL other nodes reach this node's API at (its files). |

Node-to-node requests (a run's file asked of one node and made by another,
:mod:`src.services.cluster.peer_files`) have fixed limits, below.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from src.core.errors import ConfigError
from src.services.envparse import env_number

#: Two seconds: a dead node is noticed within a few beats, and a beat is one tiny UPDATE.
HEARTBEAT_SECONDS = 2.0
#: Fifteen seconds (7 missed beats): long enough that a GC pause, a busy disk or a short
#: network blip does not take a node's runs away, short enough that a 2-second task
#: loses only a few occurrences to a dead node.
DEAD_AFTER_SECONDS = 15.0
#: Five seconds: claims and records are single-row statements; one stuck longer means
#: the database is in trouble, and the node stops claiming rather than hang its loop.
STATEMENT_TIMEOUT_SECONDS = 5.0
#: A claim made this much before its instant by the database's clock is early: the node
#: waits. A second covers NTP-synchronised hosts; a node whose clock is further ahead
#: waits for the database's clock rather than run early.
CLAIM_EARLY_SECONDS = 1.0
#: Connecting to the database may take this long (a managed PostgreSQL across a WAN).
CONNECT_TIMEOUT_SECONDS = 5
#: A node's signed request for a peer's file is good this long: enough for a loaded peer
#: to receive it, and for clocks NTP keeps within a second; short, so that one seen in a
#: log or on the wire is soon worthless.
PEER_REQUEST_SECONDS = 60
#: Connecting to a peer, and each read of its answer, may take this long: a peer on the
#: same network answers in milliseconds, a loaded one in a few seconds; a peer that says
#: nothing longer is treated as unreachable rather than holding an API thread.
PEER_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class ClusterSettings:
    url: str
    node_name: str
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    dead_after_seconds: float = DEAD_AFTER_SECONDS
    statement_timeout_seconds: float = STATEMENT_TIMEOUT_SECONDS
    address: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClusterSettings | None:
        """The cluster's settings, or None when ``CLUSTER_DATABASE_URL`` is not set."""
        url = (env.get("CLUSTER_DATABASE_URL") or "").strip()
        if not url:
            return None
        if not url.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
            raise ConfigError(
                f"CLUSTER_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@"
                f"host:5432/database), not {url.split(':', 1)[0]!r}..."
            )
        heartbeat = env_number(env, "CLUSTER_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS, 0.2)
        dead_after = env_number(env, "CLUSTER_DEAD_AFTER_SECONDS", DEAD_AFTER_SECONDS, 1)
        if dead_after < 3 * heartbeat:
            raise ConfigError(
                f"CLUSTER_DEAD_AFTER_SECONDS={dead_after:g} must be at least three heartbeats "
                f"(CLUSTER_HEARTBEAT_SECONDS={heartbeat:g}): one late beat must not make a "
                "live node look dead"
            )
        name = (env.get("NODE_NAME") or "").strip() or socket.gethostname()
        return cls(
            url=normalized_url(url),
            node_name=name,
            heartbeat_seconds=heartbeat,
            dead_after_seconds=dead_after,
            statement_timeout_seconds=env_number(
                env, "CLUSTER_STATEMENT_TIMEOUT_SECONDS", STATEMENT_TIMEOUT_SECONDS, 0.1
            ),
            address=checked_address(env.get("CLUSTER_ADDRESS") or ""),
        )


def checked_address(text: str) -> str | None:
    """``CLUSTER_ADDRESS`` as a base URL without a trailing slash (None when unset); a
    value a peer could not use is refused at start, not at the first download."""
    value = text.strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or past 65535
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(
            f"CLUSTER_ADDRESS={text.strip()!r} is not a base URL; give the URL the other nodes "
            "reach this node's HTTP API at, e.g. http://vps-1.internal:8080 (or "
            "https://vps-1.example.com behind a TLS proxy)"
        )
    return value


def normalized_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as SQLAlchemy's psycopg2 URL."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url
