"""A run's file asked of one node and made by another: fetched from that node and
streamed on, or a plain answer saying where the file is and what to do.

A run's files stay on the node that ran it (its ``EXPORTS_DIR``); the run record names
the node (``node``) and the file's path there. :func:`fetch` looks the node up in
``scheduler_nodes`` (its host, its ``CLUSTER_ADDRESS``, alive or not), asks its API for
the file with a request signed by :mod:`~src.services.cluster.peer_auth` (the caller's
credentials are this node's own, and mean nothing there), and hands back the answer's
headers and a stream of its body, read a chunk at a time: a 50 MB workbook is never held
in memory. The peer checks the name against the run's files and its exports folder
again, as for a local download.

When the file cannot be had, :class:`FileElsewhere` says so plainly -- the node, its
host, the file's path on that machine, why (no address, stopped, silent, unreachable,
the file gone) and what to do -- with the HTTP status the API answers:

* 409: the node has no ``CLUSTER_ADDRESS``, or is not a node of the cluster at all (a
  run made by ``manage_tasks.py run`` on another machine): asking again will not help
  until something is set up;
* 503: the node is stopped, or silent past ``CLUSTER_DEAD_AFTER_SECONDS``;
* 502: it heart-beats but its API did not answer, or answered something unusable;
* 404 / 410: it answered that the run or the file is not there (410: pruned).
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy.engine import Engine

from src.services.cluster.peer_auth import peer_secret, signed_headers
from src.services.cluster.roster import NodeRow, list_nodes
from src.services.cluster.settings import PEER_TIMEOUT_SECONDS, ClusterSettings

log = logging.getLogger("db_scheduler.cluster")

#: Read from the peer and written on this much at a time: big enough for few system
#: calls, small enough that many downloads at once stay a few MB.
CHUNK_BYTES = 256 * 1024
#: The peer's answer headers passed on: those a local file is served with.
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Disposition", "Last-Modified")


def file_route(run_id: str, name: str) -> str:
    """The API's path of a run's file (what a peer request signs)."""
    return f"/api/runs/{run_id}/files/{name}"


@dataclass(frozen=True)
class FileElsewhere(Exception):
    """The file is on another node and cannot be fetched from it now."""

    status: int
    message: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass
class PeerFile:
    """A peer's answer with the file: its headers, and its body as a stream of chunks
    (the connection closes when the stream ends, or is closed)."""

    headers: dict[str, str]
    chunks: Iterable[bytes]


@dataclass(frozen=True)
class Where:
    """Where a run's file is, as the messages say it."""

    run_id: str
    name: str
    path: str
    node: str
    row: NodeRow | None

    def fields(self, reason: str) -> dict[str, Any]:
        return {
            "node": self.node,
            "host": self.row.host if self.row else None,
            "path": self.path,
            "address": self.row.address if self.row else None,
            "reason": reason,
        }

    def text(self) -> str:
        host = f" (host {self.row.host})" if self.row else ""
        return (
            f"run {self.run_id[:8]}'s file {self.name!r} is on node {self.node!r}{host}, "
            f"at {self.path} on that machine"
        )

    def refuse(self, status: int, reason: str, why: str, todo: str) -> FileElsewhere:
        return FileElsewhere(status, f"{self.text()}; {why}. {todo}", self.fields(reason))


def _copy_hint(where: Where) -> str:
    host = where.row.host if where.row else "that machine"
    return f"or copy the file from {host}"


def locate(engine: Engine, settings: ClusterSettings, node: str) -> NodeRow | None:
    """The node's row (None: the cluster has never seen a daemon of that name)."""
    return next(
        (row for row in list_nodes(engine, settings.dead_after_seconds) if row.name == node), None
    )


def fetch(
    engine: Engine, settings: ClusterSettings, *, run_id: str, name: str, path: str, node: str
) -> PeerFile:
    """The file ``name`` of run ``run_id``, made by ``node``, from that node's API;
    :class:`FileElsewhere` when it cannot be had (see the module)."""
    where = Where(run_id, name, path, node, locate(engine, settings, node))
    row = where.row
    if row is None:
        raise where.refuse(
            409,
            "unknown-node",
            f"no daemon named {node!r} has joined the cluster (the run was made by "
            "`manage_tasks.py run` on that machine, or the node was renamed), so no node "
            "can fetch it",
            "Copy the file from the machine that ran it, or run the task again here.",
        )
    if not row.alive:
        state = (
            "is stopped"
            if row.stopped_at is not None
            else f"has not sent a heartbeat for {row.heartbeat_age:.0f} s (dead past "
            f"{settings.dead_after_seconds:g} s)"
        )
        raise where.refuse(
            503,
            "stopped" if row.stopped_at is not None else "dead",
            f"node {node!r} {state}, and its files are served by its own daemon",
            f"Start the daemon of node {node!r} on {row.host} again "
            f"(e.g. `systemctl start db-scheduler-node`), {_copy_hint(where)}.",
        )
    if not row.address:
        raise where.refuse(
            409,
            "no-address",
            f"node {node!r} does not say where its API is reached (CLUSTER_ADDRESS is not "
            "set on it), so this node cannot fetch the file",
            f"Set CLUSTER_ADDRESS on node {node!r} to the URL the other nodes reach its HTTP "
            f"API at (e.g. http://{row.host}:8080, with HTTP_LISTEN or --http on that "
            f"address) and restart it, {_copy_hint(where)}.",
        )
    route = file_route(run_id, name)
    headers = signed_headers(peer_secret(engine), "GET", route, settings.node_name, time.time())
    return _get(where, row.address, route, headers)


def _get(where: Where, address: str, route: str, headers: dict[str, str]) -> PeerFile:
    base = urlsplit(address)
    target = base.path.rstrip("/") + quote(route, safe="/")
    connection: http.client.HTTPConnection
    if base.scheme == "https":
        connection = http.client.HTTPSConnection(
            base.hostname or "",
            base.port,
            timeout=PEER_TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(
            base.hostname or "", base.port, timeout=PEER_TIMEOUT_SECONDS
        )
    unreachable = (
        f"Check that node {where.node!r} serves its API at {address} (HTTP_LISTEN or --http "
        f"there, CLUSTER_ADDRESS set to it) and that this machine can reach it, "
        f"{_copy_hint(where)}."
    )
    try:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise where.refuse(
            502,
            "unreachable",
            f"node {where.node!r} did not answer at {address}: "
            f"{getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__}",
            unreachable,
        ) from None
    if response.status != 200:
        said = _error_of(response)
        connection.close()
        if response.status in (404, 410):
            raise where.refuse(
                response.status,
                "gone" if response.status == 410 else "not-found",
                f"node {where.node!r} answered {response.status}: {said}",
                "Run the task again for a new file.",
            )
        hint = unreachable
        if response.status in (401, 403):
            hint = (
                f"Node {where.node!r} refused this node's signed request: run the same "
                "version of db-scheduler on every node, and keep their clocks in sync (NTP)."
            )
        elif 300 <= response.status < 400:
            said += f" (Location: {response.getheader('Location') or '-'})"
            hint = (
                f"Set CLUSTER_ADDRESS on node {where.node!r} to the URL its API is served at, "
                "as the redirect shows, and restart it."
            )
        raise where.refuse(
            502, "refused", f"node {where.node!r} answered {response.status}: {said}", hint
        )
    passed = {name: value for name in PASSED_HEADERS if (value := response.getheader(name))}
    return PeerFile(passed, _Body(where, response, connection))


def _error_of(response: http.client.HTTPResponse) -> str:
    """What a peer's error answer says (its JSON ``error``, or its first words)."""
    body = response.read(16 * 1024)
    try:
        said = json.loads(body).get("error")
    except (ValueError, AttributeError):
        said = None
    if isinstance(said, str) and said:
        return said
    text = body.decode("utf-8", "replace").strip()
    return text[:200] or response.reason or "no explanation"


class _Body:
    """The peer's body, a chunk at a time; closing it (the WSGI server does, also after a
    HEAD or a client gone early) closes the connection to the peer."""

    def __init__(
        self,
        where: Where,
        response: http.client.HTTPResponse,
        connection: http.client.HTTPConnection,
    ) -> None:
        self.where = where
        self.response = response
        self.connection = connection

    def __iter__(self) -> Iterator[bytes]:
        # the headers (and their Content-Length) are sent by now: a body cut short reaches
        # the client short (it sees it is), and this node's log says why
        expected = self.response.getheader("Content-Length") or ""
        sent = 0
        try:
            while chunk := self.response.read(CHUNK_BYTES):
                sent += len(chunk)
                yield chunk
            # read(n) ends quietly at a closed connection: count against the length
            if expected.isascii() and expected.isdigit() and sent < int(expected):
                self._cut(f"the connection closed after {sent} of {expected} bytes")
        except (OSError, http.client.HTTPException) as exc:
            self._cut(f"{type(exc).__name__}: {exc} after {sent} bytes")
        finally:
            self.close()

    def _cut(self, why: str) -> None:
        log.warning("%s; node %r stopped sending it: %s", self.where.text(), self.where.node, why)

    def close(self) -> None:
        self.connection.close()
