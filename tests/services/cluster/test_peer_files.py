"""A run's files across nodes: src/services/cluster/peer_files.py and the download path
(src/services/api/run_files.py, the run page's links), with two REAL daemons
(scheduler_daemon.py --http, each with its own data folder, users and tokens) on one
real PostgreSQL.

A task runs on node b (triggered through b's API); its xlsx and CSV are downloaded
through node a -- byte for byte b's files, the xlsx read back with openpyxl, with a
local file's headers. Node b refuses unsigned, forged, expired and misused peer
requests. With b stopped, without CLUSTER_ADDRESS, or at an address where nothing
answers, a's answer (JSON and page) says plainly where the file is: node, host, path.
Every answer is checked against /api/openapi.json; the cluster's secret appears in no
log and no answer.
"""

from __future__ import annotations

import html
import http.server
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
import sqlalchemy as sa

from src.core.task import Task
from src.services.cluster.database import engine_for
from src.services.cluster.node import ClusterNode
from src.services.cluster.peer_auth import (
    EXPIRES_HEADER,
    SIGNATURE_HEADER,
    check_peer,
    peer_secret,
    signed_headers,
)
from src.services.cluster.peer_files import CHUNK_BYTES, FileElsewhere, fetch, file_route
from src.services.cluster.run_log import ClusterRunLog
from src.services.cluster.settings import ClusterSettings
from src.services.cluster.task_store import ClusterTaskStore
from src.services.history import RunRecord
from tests.daemon_harness import WAIT, DaemonProcess, Workspace
from tests.fixtures.http import Reply, send
from tests.fixtures.smtp import free_port
from tests.services.api.test_api import LISTENING, check

ROUTE = "/api/runs/{run_id}/files/{name}"
TOKENS = {"a": "node-a-webhook-token-" + "a" * 32, "b": "node-b-webhook-token-" + "b" * 32}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Node:
    name: str
    space: Workspace
    daemon: DaemonProcess | None = None
    url: str = ""

    def get(self, path: str, *, token: str | None = "own", **headers: str) -> Reply:
        auth = TOKENS[self.name] if token == "own" else token
        return send(self.url, "GET", path, token=auth, headers=headers, timeout=WAIT)


class Pair:
    """Nodes a and b of one cluster, started and restarted as the test says."""

    def __init__(self, url: str, folder: Path, daemons: list[DaemonProcess]) -> None:
        self.url = url
        self.daemons = daemons
        self.engine = engine_for(url)
        self.nodes = {name: self._space(folder, name) for name in ("a", "b")}
        self.task_id = self._task(folder)

    def _space(self, folder: Path, name: str) -> Node:
        (folder / name).mkdir()
        space = Workspace(folder / name)
        space.write_env(
            CLUSTER_DATABASE_URL=self.url,
            NODE_NAME=name,
            CLUSTER_HEARTBEAT_SECONDS="0.5",
            CLUSTER_DEAD_AFTER_SECONDS="4",
            WEBHOOK_TOKEN=TOKENS[name],
            WEBHOOK_RATE_LIMIT="1000",
        )
        return Node(name, space)

    def _task(self, folder: Path) -> str:
        task = Task.from_dict(
            {
                "id": "00000000-0000-4000-8000-00000000f11e",
                "name": "Sales by region",
                "query": "SELECT id, region, amount FROM sales ORDER BY id",
                "schedule": {"cron": "0 9 1 1 *"},
                "exports": {"xlsx": True, "csv": True},
                "email": {"to": ["boss@example.com"], "subject": "Sales"},
            }
        )
        return ClusterTaskStore(self.engine, folder / "tasks.json").add(task).id

    def start(self, name: str, *, port: int | None = None, address: str | None = None) -> Node:
        """Start ``name`` with its API on ``port`` (a free one when None); ``address``:
        its CLUSTER_ADDRESS ("" leaves it unset)."""
        node = self.nodes[name]
        port = port or free_port()
        node.space.env.pop("CLUSTER_ADDRESS", None)
        if address != "":
            node.space.env["CLUSTER_ADDRESS"] = address or f"http://127.0.0.1:{port}"
        node.space.write_env()
        node.daemon = node.space.start("--http", f"127.0.0.1:{port}", "--log-level", "DEBUG")
        self.daemons.append(node.daemon)
        node.daemon.wait_for(LISTENING, timeout=120)
        node.daemon.wait_for("Scheduler is running", timeout=120)
        node.url = f"http://127.0.0.1:{port}"
        return node

    def stop(self, name: str) -> None:
        daemon = self.nodes[name].daemon
        assert daemon is not None and daemon.stop() == 0, daemon and daemon.output

    def run_on(self, name: str) -> RunRecord:
        """Run the task on node ``name`` (its webhook), until the cluster records its end."""
        node = self.nodes[name]
        reply = send(
            node.url, "POST", f"/api/tasks/{self.task_id}/run", token=TOKENS[name], body=b""
        )
        assert reply.status == 202, reply.body
        run_id = reply.json["run_id"]
        log = ClusterRunLog(self.engine, "test")
        deadline = time.monotonic() + WAIT * 2
        while time.monotonic() < deadline:
            record = log.get(run_id)
            if record is not None and record.finished:
                assert record.status == "success", record.to_json()
                return record
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not end:\n{node.daemon and node.daemon.output}")


@pytest.fixture
def pair(cluster_url: str, tmp_path: Path, daemons: list[DaemonProcess]) -> Iterator[Pair]:
    yield Pair(cluster_url, tmp_path, daemons)


def _files(record: RunRecord) -> dict[str, Path]:
    return {Path(f["path"]).name: Path(f["path"]) for f in record.data["files"]}


def _download(node: Node, record: RunRecord, name: str, **kw: Any) -> Reply:
    reply = node.get(f"/api/runs/{record.run_id}/files/{quote(name)}", **kw)
    return check(reply, "GET", ROUTE)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_file_made_on_b_is_downloaded_through_a_byte_for_byte(pair: Pair) -> None:
    b = pair.start("b")
    a = pair.start("a")
    record = pair.run_on("b")
    assert record.data["node"] == "b"
    files = _files(record)
    xlsx = next(name for name in files if name.endswith(".xlsx"))
    csv = next(name for name in files if name.endswith(".csv"))
    assert files[xlsx].is_relative_to(b.space.data / "exports")  # on b's disk, not a's
    assert not (a.space.data / "exports").exists() or not any(
        (a.space.data / "exports").rglob("*.xlsx")
    )

    # through a, with a's own token (which b does not know): b's bytes and headers
    got = _download(a, record, xlsx)
    assert got.status == 200, got.body[:300]
    assert got.body == files[xlsx].read_bytes()
    direct = _download(b, record, xlsx)
    assert direct.status == 200
    for header in ("Content-Type", "Content-Length", "Content-Disposition"):
        assert got.headers[header] == direct.headers[header], header
    assert got.headers.get_content_type() == XLSX
    assert int(got.headers["Content-Length"]) == files[xlsx].stat().st_size
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert xlsx in got.headers["Content-Disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(got.body)).worksheets[0].values)
    assert rows[0] == ("id", "region", "amount") and len(rows) == 51
    assert rows[2] == (1, "south", 1.5)
    assert _download(a, record, csv).body == files[csv].read_bytes()
    assert "fetched from node 'b'" in (a.daemon.output if a.daemon else "")
    assert b.get(f"/api/runs/{record.run_id}/files/{quote(xlsx)}", token=TOKENS["a"]).status == 401

    # the run page's link: the same file through a's page route
    page = a.get(f"/runs/{record.run_id}/files/{quote(xlsx)}")
    assert page.status == 200 and page.body == got.body

    # a run made by a is served by a from its own folder, as in single-machine mode
    fetched = (a.daemon.output if a.daemon else "").count("fetched from node")
    own = pair.run_on("a")
    own_files = _files(own)
    own_xlsx = next(name for name in own_files if name.endswith(".xlsx"))
    assert own_files[own_xlsx].is_relative_to(a.space.data / "exports")
    assert _download(a, own, own_xlsx).body == own_files[own_xlsx].read_bytes()
    assert (a.daemon.output if a.daemon else "").count("fetched from node") == fetched

    # a file name that tries to leave the exports folder: refused by a, and by b when a
    # peer signs it
    for name in ("..%2F..%2F.env", "%2e%2e%2f.env", ".env", quote(str(files[xlsx]), safe="")):
        reply = check(a.get(f"/api/runs/{record.run_id}/files/{name}"), "GET", ROUTE)
        assert reply.status == 404 and b"WEBHOOK_TOKEN" not in reply.body, name
    secret = peer_secret(pair.engine)
    for name in ("../../.env", ".env", "runs.jsonl"):
        route = file_route(record.run_id, name)
        signed = signed_headers(secret, "GET", route, "a", time.time())
        reply = b.get(quote(route), token=None, **signed)
        assert reply.status == 404 and b"WEBHOOK_TOKEN" not in reply.body, name

    # b: a good signature is the only credential a peer request needs ...
    route = file_route(record.run_id, xlsx)
    good = signed_headers(secret, "GET", route, "a", time.time())
    assert b.get(quote(route), token=None, **good).body == files[xlsx].read_bytes()
    # ... and unsigned, forged, expired or misused ones are refused
    refusals = {
        "unsigned": ({}, "missing credentials"),
        "forged": ({**good, SIGNATURE_HEADER: "f" * 64}, "does not match"),
        "another cluster": (
            signed_headers(b"x" * 64, "GET", route, "a", time.time()),
            "does not match",
        ),
        "expired": (
            signed_headers(secret, "GET", route, "a", time.time() - 120),
            "expired",
        ),
        "expiry moved": (
            {**good, EXPIRES_HEADER: str(int(good[EXPIRES_HEADER]) + 30)},
            "does not match",
        ),
        "another file": (
            signed_headers(secret, "GET", file_route(record.run_id, csv), "a", time.time()),
            "does not match",
        ),
    }
    for what, (headers, message) in refusals.items():
        reply = check(b.get(quote(route), token=None, **headers), "GET", ROUTE)
        assert reply.status == 401, (what, reply.status)
        assert message in reply.json["error"], (what, reply.json)
        assert secret.decode() not in reply.text
    # a signature opens that download alone: no other route takes it
    for path in ("/api/tasks", f"/api/runs/{record.run_id}", "/api/scheduler"):
        signed = signed_headers(secret, "GET", path, "a", time.time())
        assert b.get(path, token=None, **signed).status == 401, path

    # the file gone from b: a passes b's answer on, saying where it was
    files[csv].unlink()
    gone = _download(a, record, csv)
    assert gone.status == 410 and gone.json["node"] == "b", gone.json
    assert "is gone" in gone.json["error"] and "Run the task again" in gone.json["error"]

    # the secret is in no log and no answer
    pair.stop("a")
    pair.stop("b")
    text = "\n".join((node.daemon.output if node.daemon else "") for node in pair.nodes.values())
    assert secret.decode() not in text and secret.decode()[:16] not in text
    for node in pair.nodes.values():  # nor in any file either node wrote
        for path in node.space.folder.rglob("*"):
            if path.is_file():
                assert secret[:16] not in path.read_bytes(), path


@pytest.mark.postgres
@pytest.mark.slow
def test_without_b_a_says_where_the_file_is_and_what_to_do(pair: Pair, refusing_port: int) -> None:
    b = pair.start("b")
    a = pair.start("a")
    record = pair.run_on("b")
    files = _files(record)
    xlsx = next(name for name in files if name.endswith(".xlsx"))
    path = str(files[xlsx])
    host = socket.gethostname()

    def refused(status: int, reason: str, *todo: str) -> None:
        reply = _download(a, record, xlsx)
        assert reply.status == status, reply.body
        body = reply.json
        assert (body["node"], body["host"], body["path"], body["reason"]) == (
            "b",
            host,
            path,
            reason,
        )
        for text in (f"is on node 'b' (host {host}), at {path} on that machine", *todo):
            assert text in body["error"], body["error"]
        # the page says the same to a person
        page = a.get(f"/runs/{record.run_id}/files/{quote(xlsx)}")
        assert page.status == status
        assert page.headers.get_content_type() == "text/html"
        # (read a moment later: a dead node's heartbeat age may have grown a second)
        shown = html.unescape(page.text)
        for text in (f"is on node 'b' (host {host}), at {path} on that machine", *todo):
            assert text in shown, shown

    # b stopped (a clean stop: its row says so)
    pair.stop("b")
    refused(503, "stopped", "node 'b' is stopped", "Start the daemon of node 'b'")
    # b killed: silent past the dead limit
    b = pair.start("b")
    assert b.daemon is not None
    b.daemon.kill()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with pair.engine.connect() as conn:
            age = conn.execute(
                sa.text(
                    "SELECT extract(epoch FROM now() - heartbeat_at) FROM scheduler_nodes "
                    "WHERE name = 'b'"
                )
            ).scalar_one()
        if float(age) > 4:
            break
        time.sleep(0.5)
    refused(503, "dead", "has not sent a heartbeat", "Start the daemon of node 'b'")
    # b up, without CLUSTER_ADDRESS
    pair.start("b", address="")
    refused(409, "no-address", "CLUSTER_ADDRESS is not set on it", "Set CLUSTER_ADDRESS on node")
    pair.stop("b")
    # b up, its CLUSTER_ADDRESS where nothing listens
    pair.start("b", address=f"http://127.0.0.1:{refusing_port}")
    refused(502, "unreachable", "did not answer at http://127.0.0.1:", "Check that node 'b'")
    assert "is on node 'b'" in (a.daemon.output if a.daemon else "")  # a's log says it too


# --- fetch() against a stand-in peer ----------------------------------------------------
# A real HTTP server on a real port plays node b where a daemon cannot be made to: hold
# its body half-sent, cut it off, redirect. fetch() and the node's row are the real ones.


class Peer(http.server.ThreadingHTTPServer):
    """Answers each GET with ``answer(handler)``; remembers the path and headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PeerHandler)
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.answer: Any = None
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/scheduler"


class _PeerHandler(http.server.BaseHTTPRequestHandler):
    server: Peer

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers.items())))
        self.server.answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the test says what matters


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _join(url: str, name: str, address: str | None) -> ClusterSettings:
    settings = ClusterSettings(url, name, 0.5, 4, address=address)
    ClusterNode(settings, engine_for(url), capacity=1, running=lambda: 0).join()
    return settings


def _fetch(url: str, settings: ClusterSettings, node: str = "b", name: str = "big.xlsx") -> Any:
    return fetch(
        engine_for(url),
        settings,
        run_id="r-1",
        name=name,
        path=f"/srv/b/data/exports/run/{name}",
        node=node,
    )


@pytest.mark.postgres
def test_the_file_streams_through_a_chunk_at_a_time_with_a_signed_request(
    cluster_url: str, peer: Peer
) -> None:
    size = 3 * CHUNK_BYTES

    def answer(handler: _PeerHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", XLSX)
        handler.send_header("Content-Length", str(size))
        handler.send_header("Content-Disposition", "attachment; filename=big.xlsx")
        handler.send_header("X-Not-Passed", "1")
        handler.end_headers()
        handler.wfile.write(b"x" * CHUNK_BYTES)
        handler.wfile.flush()
        handler.server.release.wait(WAIT)  # the rest only once the first chunk is through
        handler.wfile.write(b"y" * (size - CHUNK_BYTES))

    peer.answer = answer
    _join(cluster_url, "b", peer.address)
    a = _join(cluster_url, "a", None)
    got = _fetch(cluster_url, a)
    assert got.headers == {
        "Content-Type": XLSX,
        "Content-Length": str(size),
        "Content-Disposition": "attachment; filename=big.xlsx",
    }
    chunks = iter(got.chunks)
    first = next(chunks)  # arrives while b still holds the rest: streamed, not gathered
    assert first and set(first) == {ord("x")} and len(first) <= CHUNK_BYTES
    peer.release.set()
    rest = b"".join(chunks)
    assert len(first) + len(rest) == size and all(len(c) <= CHUNK_BYTES for c in [first])
    # the request: under the address's prefix, signed for the route, by node a
    [(path, headers)] = peer.seen
    route = file_route("r-1", "big.xlsx")
    assert path == "/scheduler" + route
    assert "Authorization" not in headers
    secret = peer_secret(engine_for(cluster_url))
    assert check_peer(secret, "GET", route, headers, time.time()) == "a"


@pytest.mark.postgres
def test_a_body_cut_off_ends_short_and_the_log_says_why(
    cluster_url: str, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(handler: _PeerHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 * CHUNK_BYTES))
        handler.end_headers()
        handler.wfile.write(b"x" * 1000)
        handler.close_connection = True

    peer.answer = answer
    _join(cluster_url, "b", peer.address)
    got = _fetch(cluster_url, _join(cluster_url, "a", None))
    assert b"".join(got.chunks) == b"x" * 1000
    assert "node 'b' stopped sending it" in caplog.text
    assert f"closed after 1000 of {10 * CHUNK_BYTES} bytes" in caplog.text
    assert "is on node 'b'" in caplog.text


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("status", "headers", "body", "says"),
    [
        (301, {"Location": "https://b.example.com/x"}, b"", "Location: https://b.example.com/x"),
        (401, {}, b'{"error": "node-to-node request refused: expired"}', "same version"),
        (500, {}, b"<html>proxy error</html>", "<html>proxy error</html>"),
    ],
)
def test_an_answer_that_is_not_the_file_is_a_502_saying_what_the_peer_said(
    cluster_url: str, peer: Peer, status: int, headers: dict[str, str], body: bytes, says: str
) -> None:
    def answer(handler: _PeerHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    peer.answer = answer
    _join(cluster_url, "b", peer.address)
    with pytest.raises(FileElsewhere) as refused:
        _fetch(cluster_url, _join(cluster_url, "a", None))
    assert refused.value.status == 502 and refused.value.fields["reason"] == "refused"
    assert f"node 'b' answered {status}" in str(refused.value) and says in str(refused.value)


@pytest.mark.postgres
def test_a_node_the_cluster_never_saw_is_a_409_naming_the_path(cluster_url: str) -> None:
    with pytest.raises(FileElsewhere) as refused:
        _fetch(cluster_url, _join(cluster_url, "a", None), node="laptop")
    assert refused.value.status == 409 and refused.value.fields["host"] is None
    assert str(refused.value).startswith(
        "run r-1's file 'big.xlsx' is on node 'laptop', at /srv/b/data/exports/run/big.xlsx "
        "on that machine; no daemon named 'laptop' has joined the cluster"
    )
