"""The HTTP API over real HTTP: waitress on a free port, requests with http.client.

The test of the package src/services/webhook/ as a whole: the Flask app
(src/services/webhook/app.py), its answers (src/services/webhook/views.py), errors
(src/services/webhook/errors.py) and metrics
(src/services/webhook/metrics.py), through the token, signature and rate limit.

The daemon's side is :class:`RunnerControl`, a small implementation of the
``DaemonControl`` protocol shaped like the daemon: a main-loop thread that owns the
state (calls reach it through ``Handoff``), one run at a time per task, and runs
made by the REAL Runner on the bundled SQLite demo database, mailing to the outbox
folder. So "trigger -> run recorded and email in the outbox" is what happens, not a
stub's say-so. (The daemon itself is wired in and tested end to end elsewhere.)

Waits are hang guards, never timing assertions; the rate limiter gets a frozen clock.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from src.cli import render
from src.cli.app import cli
from src.core.clock import now as clock_now
from src.core.errors import StoreError
from src.core.task import Task
from src.services.api import ApiContext
from src.services.demo import build_demo_database
from src.services.history import RunHistory
from src.services.query import QueryService
from src.services.runner import Runner
from src.services.settings import Settings
from src.services.task_store import TaskStore
from src.services.webhook import (
    Handoff,
    HealthState,
    HttpServer,
    Metrics,
    TriggerResult,
    WebhookSettings,
    create_app,
)
from src.services.webhook.security import RateLimiter, sign
from src.services.webhook.settings import Listen
from src.services.webhook.views import task_json
from tests.fixtures.http import Reply, metric_samples, send

TOKEN = "t0ken-" + "x" * 40
QUERY = "SELECT region, SUM(total) AS revenue FROM sales GROUP BY region ORDER BY region"
HANG_GUARD = 60.0


# --- the daemon's side ------------------------------------------------------------------------


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    store: TaskStore
    settings: Settings

    @property
    def outbox(self) -> list[Path]:
        folder = self.settings.data_dir / "outbox"
        return sorted(folder.glob("*.eml")) if folder.exists() else []

    def runs(self, task_id: str | None = None) -> list[Any]:
        return RunHistory(self.settings.history_path).runs(task_id)


def make_workspace(root: Path) -> Workspace:
    db = root / "data" / "demo.db"
    build_demo_database(db, date(2026, 11, 23), days_back=5, days_ahead=5)
    env = {"DATABASE_URL": f"sqlite:///{db}"}
    store = TaskStore(root / "tasks.json")
    now = clock_now()
    for name, extra in (("Daily sales", {}), ("Private", {"webhook": False})):
        data = {
            "id": str(uuid.uuid4()),
            "name": name,
            "query": QUERY,
            "schedule": {"cron": "0 9 * * *"},
            "timezone": "Europe/Berlin",
            "exports": {"csv": True},
            "email": {"to": ["boss@example.com"]},
            "created_at": now.isoformat(),
            **extra,
        }
        store.add(Task.from_dict(data), now)
    return Workspace(root, env, store, Settings.from_env(env, base_dir=root))


@dataclass
class RunnerControl:
    """The DaemonControl protocol as the daemon would implement it, on the real Runner."""

    space: Workspace
    metrics: Metrics
    gate: threading.Event = field(default_factory=threading.Event)
    state: str = "running"
    tick_override: datetime | None = None
    trigger_calls: int = 0
    explode: bool = False

    def __post_init__(self) -> None:
        self.gate.set()
        self.running: dict[str, str] = {}  # task id -> run id
        self.queued: set[str] = set()  # run ids not started yet
        self.threads: list[threading.Thread] = []
        self.last_tick: datetime | None = None
        self._last_good: list[Task] = self.space.store.load().tasks
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.handoff = Handoff(self._wake.set, timeout=HANG_GUARD)
        self._loop = threading.Thread(target=self._main_loop, name="test-main-loop", daemon=True)
        self._loop.start()

    # the daemon's main loop: owns the state, runs handed-off calls, ticks
    def _main_loop(self) -> None:
        while not self._stop.is_set():
            self.handoff.run_pending()
            self.last_tick = clock_now()
            self._wake.wait(0.05)
            self._wake.clear()

    def close(self) -> None:
        self.gate.set()
        self.wait_idle()
        self.handoff.close()
        self._stop.set()
        self._wake.set()
        self._loop.join(HANG_GUARD)

    def wait_idle(self) -> None:
        for thread in list(self.threads):
            thread.join(HANG_GUARD)
            assert not thread.is_alive(), "a run did not finish (hang guard)"

    # -- the protocol --

    def trigger(self, task: Task, *, trigger: str, idempotency_key: str | None) -> TriggerResult:
        self.trigger_calls += 1
        if self.explode:
            raise RuntimeError("boom in /srv/secret/internal/path.py")
        return self.handoff.call(lambda: self._queue(task, trigger))

    def _queue(self, task: Task, trigger: str) -> TriggerResult:
        if self.state == "stopping":
            return TriggerResult(None, False, "the scheduler is stopping", unavailable=True)
        if task.id in self.running:
            busy = self.running[task.id]
            return TriggerResult(None, False, f"the previous run ({busy[:8]}) is still running")
        run_id = str(uuid.uuid4())
        self.running[task.id] = run_id
        self.queued.add(run_id)
        thread = threading.Thread(target=self._run, args=(task, trigger, run_id), daemon=True)
        self.threads.append(thread)
        thread.start()
        return TriggerResult(run_id, True)

    def _run(self, task: Task, trigger: str, run_id: str) -> None:
        self.gate.wait(HANG_GUARD)
        self.queued.discard(run_id)
        query = QueryService(self.space.env)
        try:
            outcome = Runner(self.space.store, self.space.settings, query).run(
                task, trigger=trigger, run_id=run_id
            )
        finally:
            query.close()
            self.running.pop(task.id, None)
        self.metrics.observe_run(
            {
                "task_id": task.id,
                "task_name": task.name,
                "status": outcome.status,
                "duration_seconds": outcome.duration,
                "rows": outcome.rows,
                "emailed": outcome.delivery is not None,
                "finished_at": outcome.finished_at,
            }
        )

    def run_status(self, run_id: str) -> dict[str, Any] | None:
        # as the daemon does: a run is live until its history has it (no gap in between)
        if run_id in self.queued:
            return {"status": "queued"}
        return {"status": "running"} if run_id in self.running.values() else None

    def health(self) -> HealthState:
        error = None
        try:
            self._last_good = self.space.store.load().tasks
        except StoreError as exc:
            error = str(exc)
        return HealthState(
            scheduler_state=self.state,
            tasks_loaded=len(self._last_good),
            last_tick=self.tick_override or self.last_tick,
            tasks_file_error=error,
            queue_depth=len(self.queued),
            running=len(self.running),
        )

    def tasks(self) -> list[Task]:
        with contextlib.suppress(StoreError):  # the daemon keeps its last good set
            self._last_good = self.space.store.load().tasks
        return self._last_good

    def history(self) -> RunHistory:
        return RunHistory(self.space.settings.history_path)

    def pause_state(self) -> dict[str, Any]:
        return {"paused": False, "paused_since": None, "paused_by": None}

    def set_paused(self, paused: bool, by: str) -> dict[str, Any]:
        raise AssertionError("the webhook tests do not pause (tests/services/api do)")

    def in_flight(self) -> list[dict[str, Any]]:
        return [{"run_id": r, "task_id": t, "status": "running"} for t, r in self.running.items()]


def api_context(space: Workspace, control: RunnerControl) -> ApiContext:
    return ApiContext.build(control, space.store.path, space.env, space.settings, TOKEN)


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Api:
    url: str
    space: Workspace
    control: RunnerControl
    metrics: Metrics
    settings: WebhookSettings
    limiter_clock: list[float]

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        chunked: bool = False,
    ) -> Reply:
        return send(
            self.url,
            method,
            path,
            token=token,
            headers=headers,
            body=body,
            chunked=chunked,
            timeout=HANG_GUARD,
        )

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are; the answer up to the server's close."""
        parts = urlsplit(self.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=HANG_GUARD) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def trigger(self, ref: str = "Daily sales", **kwargs: Any) -> Reply:
        return self.request("POST", f"/api/tasks/{ref.replace(' ', '%20')}/run", **kwargs)

    def task(self, name: str) -> Task:
        return self.space.store.load().find(name)


def start_api(
    root: Path, *, space: Workspace | None = None, per_minute: float = 1000, **overrides: Any
) -> tuple[Api, HttpServer]:
    space = space or make_workspace(root)
    metrics = Metrics()
    metrics.seed(RunHistory(space.settings.history_path))
    control = RunnerControl(space, metrics)
    settings = WebhookSettings(
        listen=Listen("127.0.0.1", 0),
        token=TOKEN,
        idempotency_path=space.settings.data_dir / "webhook" / "idempotency.jsonl",
        **overrides,
    )
    frozen = [1000.0]
    limiter = RateLimiter(per_minute, clock=lambda: frozen[0])
    app = create_app(
        control, settings, context=api_context(space, control), metrics=metrics, limiter=limiter
    )
    server = HttpServer(app, "127.0.0.1", 0, max_body_bytes=settings.max_body_bytes)
    server.start()
    return Api(server.url, space, control, metrics, settings, frozen), server


@pytest.fixture
def servers() -> Iterator[list[tuple[Api, HttpServer]]]:
    started: list[tuple[Api, HttpServer]] = []
    yield started
    for api, server in started:
        api.control.close()
        server.stop()


@pytest.fixture
def api_factory(tmp_path: Path, servers: list[tuple[Api, HttpServer]]) -> Any:
    def make(**overrides: Any) -> Api:
        pair = start_api(tmp_path, **overrides)
        servers.append(pair)
        return pair[0]

    return make


@pytest.fixture
def api(api_factory: Any) -> Api:
    result: Api = api_factory()
    return result


# --- trigger and status ---------------------------------------------------------------------


def test_trigger_runs_the_task_records_it_and_mails_the_outbox(api: Api) -> None:
    reply = api.trigger()
    assert reply.status == 202, reply.body
    body = reply.json
    task = api.task("Daily sales")
    assert body["task_id"] == task.id
    assert body["trigger"] == "webhook"
    assert body["status"] == "queued"
    assert body["status_url"] == f"{api.url}/api/runs/{body['run_id']}"
    assert reply.headers["Location"] == body["status_url"]
    api.control.wait_idle()

    status = api.request("GET", f"/api/runs/{body['run_id']}")
    assert status.status == 200
    run = status.json
    assert run["run_id"] == body["run_id"]
    assert run["status"] == "success"
    assert run["trigger"] == "webhook"
    assert run["rows"] == 4  # four regions
    [record] = api.space.runs(task.id)
    assert record.run_id == body["run_id"]
    [message] = api.space.outbox
    text = message.read_text(encoding="utf-8", errors="replace")
    assert "To: boss@example.com" in text
    assert "Daily sales" in text
    assert run["email"]["outbox_path"] == str(message)


def test_status_of_a_queued_run_comes_from_the_daemon(api: Api) -> None:
    api.control.gate.clear()  # the run waits for a slot
    body = api.trigger().json
    reply = api.request("GET", f"/api/runs/{body['run_id']}")
    assert reply.status == 200
    assert reply.json == {"run_id": body["run_id"], "status": "queued"}
    api.control.gate.set()
    api.control.wait_idle()
    assert api.request("GET", f"/api/runs/{body['run_id']}").json["status"] == "success"


def test_unknown_run_is_404(api: Api) -> None:
    reply = api.request("GET", "/api/runs/does-not-exist")
    assert reply.status == 404
    assert "no run 'does-not-exist'" in reply.json["error"]


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, ""),
        ({"Authorization": "Bearer wrong-token-" + "y" * 40}, ""),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, ""),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, ""),
        ({}, f"?token={TOKEN}"),  # query tokens are off by default
    ],
    ids=["none", "wrong", "basic", "one-short", "query-not-allowed"],
)
def test_missing_or_wrong_token_is_401_and_nothing_runs(
    api: Api, headers: dict[str, str], query: str
) -> None:
    reply = api.request("POST", f"/api/tasks/Daily%20sales/run{query}", token=None, headers=headers)
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.json["error"]
    assert api.control.trigger_calls == 0
    assert api.space.runs() == []
    assert api.space.outbox == []


def test_query_token_refused_says_why(api: Api) -> None:
    reply = api.request("POST", f"/api/tasks/Daily%20sales/run?token={TOKEN}", token=None)
    assert reply.status == 401
    assert "WEBHOOK_ALLOW_QUERY_TOKEN" in reply.json["error"]


def test_query_token_accepted_when_allowed(api_factory: Any) -> None:
    api = api_factory(allow_query_token=True)
    reply = api.request("POST", f"/api/tasks/Daily%20sales/run?token={TOKEN}", token=None)
    assert reply.status == 202, reply.body
    wrong = api.request("POST", "/api/tasks/Daily%20sales/run?token=nope", token=None)
    assert wrong.status == 401
    api.control.wait_idle()
    assert len(api.space.runs()) == 1
    # the reads take it too (a cron service's status check cannot send a header either)
    for path in ("/api/tasks", "/api/tasks/Daily%20sales", "/api/runs"):
        assert api.request("GET", f"{path}?token={TOKEN}", token=None).status == 200, path
    twice = api.request("GET", f"/api/tasks?token={TOKEN}&token={TOKEN}", token=None)
    assert twice.status == 400 and "token is given 2 times" in twice.json["error"]


def test_every_api_read_needs_the_token(api: Api) -> None:
    for path in ("/api/tasks", "/api/tasks/Daily%20sales", "/api/runs/x", "/metrics"):
        assert api.request("GET", path, token=None).status == 401, path


def test_unknown_task_is_404(api: Api) -> None:
    reply = api.trigger("Weekly%20stock")
    assert reply.status == 404
    assert "no task 'Weekly stock'" in reply.json["error"]
    assert api.control.trigger_calls == 0


def test_task_found_by_id_and_prefix(api: Api) -> None:
    task = api.task("Daily sales")
    assert api.request("GET", f"/api/tasks/{task.id}").json["id"] == task.id
    assert api.request("GET", f"/api/tasks/{task.id[:8]}").json["id"] == task.id


def test_task_that_opted_out_is_403_and_nothing_runs(api: Api) -> None:
    reply = api.trigger("Private")
    assert reply.status == 403
    assert "webhook is false" in reply.json["error"]
    assert api.control.trigger_calls == 0
    assert api.space.runs() == []


# --- idempotency ----------------------------------------------------------------------------


def test_same_idempotency_key_twice_gives_one_run(api: Api) -> None:
    first = api.trigger(headers={"Idempotency-Key": "cron-2026-11-23T09:00"})
    assert first.status == 202
    again = api.trigger(headers={"Idempotency-Key": "cron-2026-11-23T09:00"})
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["run_id"] == first.json["run_id"]
    by_query = api.request("POST", "/api/tasks/Daily%20sales/run?key=cron-2026-11-23T09:00")
    assert by_query.json["run_id"] == first.json["run_id"]
    api.control.wait_idle()
    assert api.control.trigger_calls == 1
    assert len(api.space.runs()) == 1
    assert len(api.space.outbox) == 1
    # after the run, a repeat reports the run's status
    assert api.trigger(headers={"Idempotency-Key": "cron-2026-11-23T09:00"}).json["status"] == (
        "success"
    )


def test_idempotency_keys_survive_a_restart(tmp_path: Path, servers: list[Any]) -> None:
    api, server = start_api(tmp_path)
    servers.append((api, server))
    first = api.trigger(headers={"Idempotency-Key": "k-1"}).json["run_id"]
    api.control.wait_idle()
    api.control.close()
    server.stop()
    servers.remove((api, server))

    restarted, server2 = start_api(tmp_path, space=api.space)  # same data folder
    servers.append((restarted, server2))
    reply = restarted.trigger(headers={"Idempotency-Key": "k-1"})
    assert reply.status == 200
    assert reply.json["run_id"] == first
    assert restarted.control.trigger_calls == 0
    assert len(restarted.space.runs()) == 1


def test_a_key_whose_run_never_started_runs_again(tmp_path: Path, servers: list[Any]) -> None:
    """Remembered, but the daemon restarted while the run was queued: the run is lost, so a
    retry of the call must run it rather than point at a run that will never exist."""
    space = make_workspace(tmp_path)
    path = space.settings.data_dir / "webhook" / "idempotency.jsonl"
    path.parent.mkdir(parents=True)
    task = space.store.load().find("Daily sales")
    lost = {
        "task_id": task.id,
        "key": "k-lost",
        "run_id": "never-ran",
        "at": "2099-01-01T00:00:00Z",
    }
    path.write_text(json.dumps(lost) + "\n")
    api, server = start_api(tmp_path, space=space)
    servers.append((api, server))
    reply = api.trigger(headers={"Idempotency-Key": "k-lost"})
    assert reply.status == 202
    assert reply.json["run_id"] != "never-ran"
    api.control.wait_idle()
    assert len(api.space.runs()) == 1


def test_same_key_for_two_tasks_is_two_calls(api: Api, tmp_path: Path) -> None:
    api.space.store.add(
        Task.from_dict(
            {
                "id": str(uuid.uuid4()),
                "name": "Other",
                "query": QUERY,
                "schedule": {"interval": "1d"},
                "exports": {"csv": True},
            }
        )
    )
    assert api.trigger(headers={"Idempotency-Key": "same"}).status == 202
    assert api.trigger("Other", headers={"Idempotency-Key": "same"}).status == 202
    api.control.wait_idle()
    assert len(api.space.runs()) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "ünïcode"])
def test_bad_idempotency_key_is_400(api: Api, key: str) -> None:
    reply = api.request(
        "POST",
        "/api/tasks/Daily%20sales/run",
        headers={"Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert reply.status == 400, reply.body
    assert reply.json["error"].startswith("Idempotency-Key:")
    assert api.control.trigger_calls == 0


# --- overlap, limits, bodies ------------------------------------------------------------------


def test_overlap_is_409_and_one_run(api: Api) -> None:
    api.control.gate.clear()  # hold the first run
    first = api.trigger()
    assert first.status == 202
    second = api.trigger()
    assert second.status == 409
    assert "still running" in second.json["error"]
    assert second.json["task_id"] == api.task("Daily sales").id
    api.control.gate.set()
    api.control.wait_idle()
    assert [r.run_id for r in api.space.runs()] == [first.json["run_id"]]


def test_daemon_stopping_is_503_with_retry_after(api: Api) -> None:
    api.control.state = "stopping"
    reply = api.trigger()
    assert reply.status == 503
    assert reply.headers["Retry-After"] == "5"
    assert api.request("GET", "/health", token=None).status == 503


def test_100_rapid_calls_get_429s_and_health_stays_200(api_factory: Any) -> None:
    api = api_factory(per_minute=10)  # the limiter's clock is frozen: no refill
    api.control.gate.clear()
    replies = [api.trigger() for _ in range(100)]
    limited = [r for r in replies if r.status == 429]
    assert len(limited) == 90
    assert {r.status for r in replies if r.status != 429} == {202, 409}
    assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    assert "too many trigger calls" in limited[0].json["error"]
    assert api.control.trigger_calls == 10
    health = api.request("GET", "/health", token=None)
    assert health.status == 200, health.body
    api.limiter_clock[0] += 60  # a minute later the bucket is full again
    api.control.gate.set()
    api.control.wait_idle()
    assert api.trigger().status == 202
    api.control.wait_idle()
    assert len(api.space.runs()) == 2


def test_oversized_body_is_413_and_nothing_runs(api: Api) -> None:
    big = b"x" * (100 * 1024)
    reply = api.trigger(body=big, headers={"Content-Type": "application/octet-stream"})
    assert reply.status == 413
    assert "larger than 65536 bytes" in reply.json["error"]
    chunked = api.trigger(body=big, chunked=True)
    assert chunked.status == 413
    # waitress refuses a declared 1 MB before the body is sent (so a client still
    # sending may see the connection close: only the headers are sent here)
    huge = api.raw(
        b"POST /api/tasks/Daily%20sales/run HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 1048576\r\n\r\n"
    )
    assert huge.startswith(b"HTTP/1.1 413 ")
    assert api.control.trigger_calls == 0
    assert api.space.runs() == []


def test_small_json_body_is_fine_and_bad_json_is_400(api: Api) -> None:
    bad = api.trigger(body=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status == 400
    assert "not valid JSON" in bad.json["error"]
    ok = api.trigger(body=b'{"from": "cron-job.org"}', headers={"Content-Type": "application/json"})
    assert ok.status == 202
    api.control.wait_idle()


def test_hmac_signature_good_bad_missing(api_factory: Any) -> None:
    secret = "s3cret-" + "z" * 20
    api = api_factory(hmac_secret=secret)
    body = b'{"job": "nightly"}'
    missing = api.trigger(body=body)
    assert missing.status == 401
    assert "X-Signature" in missing.json["error"]
    wrong = api.trigger(body=body, headers={"X-Signature": sign(b"other body", secret)})
    assert wrong.status == 401
    malformed = api.trigger(body=body, headers={"X-Signature": "md5=abc"})
    assert malformed.status == 400
    assert api.control.trigger_calls == 0
    good = api.trigger(body=body, headers={"X-Signature": sign(body, secret)})
    assert good.status == 202, good.body
    api.control.wait_idle()
    github_style = api.trigger(headers={"X-Hub-Signature-256": sign(b"", secret)})
    assert github_style.status == 202, github_style.body
    api.control.wait_idle()
    assert len(api.space.runs()) == 2


# --- errors are JSON, never a trace --------------------------------------------------------


def test_unexpected_error_is_a_plain_500(api: Api) -> None:
    api.control.explode = True
    reply = api.trigger()
    assert reply.status == 500
    assert reply.json == {"error": "internal error; the daemon's log has the details"}
    assert b"Traceback" not in reply.body and b"/srv/secret" not in reply.body


def test_unknown_path_and_wrong_method_are_json(api: Api) -> None:
    missing = api.request("GET", "/nope")
    assert missing.status == 404
    assert missing.json["error"].startswith("Not Found")
    wrong = api.request("GET", "/api/tasks/Daily%20sales/run")
    assert wrong.status == 405
    assert "POST" in wrong.headers["Allow"]
    assert wrong.json["error"].startswith("Method Not Allowed")


# --- health ---------------------------------------------------------------------------------


def test_health_is_200_without_a_token(api: Api) -> None:
    reply = api.request("GET", "/health", token=None)
    assert reply.status == 200
    body = reply.json
    assert body["status"] == "ok"
    assert body["scheduler"] == "running"
    assert body["tasks_loaded"] == 2
    assert body["tasks_file"] == "ok"
    assert body["problems"] == []


def test_health_503_when_the_tasks_file_is_corrupted_and_200_when_fixed(api: Api) -> None:
    path = api.space.store.path
    good = path.read_bytes()
    path.write_text('{"version": 1, "tasks": [', encoding="utf-8")
    reply = api.request("GET", "/health", token=None)
    assert reply.status == 503
    body = reply.json
    assert body["tasks_file"] == "unreadable"
    assert body["tasks_loaded"] == 2  # the last good set
    assert "tasks.json cannot be read" in body["problems"][0]
    assert str(api.space.root) not in reply.text  # no internal path to the world
    path.write_bytes(good)
    assert api.request("GET", "/health", token=None).status == 200


def test_health_503_when_the_scheduler_loop_is_stuck(api: Api) -> None:
    api.control.tick_override = clock_now() - timedelta(minutes=5)
    reply = api.request("GET", "/health", token=None)
    assert reply.status == 503
    assert "has not gone round for 300 s" in reply.json["problems"][0]


# --- metrics --------------------------------------------------------------------------------


def metric_values(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = api.request("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    return metric_samples(reply.text)


def test_metrics_parse_and_counters_move_after_a_run(api: Api) -> None:
    task = api.task("Daily sales")
    labels = (("task", task.name), ("task_id", task.id))
    before = metric_values(api)
    assert ("db_scheduler_runs_total", (*labels, ("status", "success"))) not in before
    assert before[("db_scheduler_queue_depth", ())] == 0
    assert before[("db_scheduler_tasks_loaded", ())] == 2
    assert before[("db_scheduler_tasks_file_ok", ())] == 1

    started = datetime.now(UTC).timestamp()
    assert api.trigger().status == 202
    api.control.wait_idle()
    after = metric_values(api)
    runs = after[("db_scheduler_runs_total", (("status", "success"), *labels))]
    assert runs == 1
    assert after[("db_scheduler_rows_exported_total", labels)] == 4
    assert after[("db_scheduler_emails_sent_total", labels)] == 1
    assert after[("db_scheduler_run_duration_seconds_count", labels)] == 1
    assert after[("db_scheduler_last_success_timestamp_seconds", labels)] >= int(started)
    assert after[("db_scheduler_webhook_triggers_total", (("result", "accepted"),))] == 1
    # over the kept history (read at scrape): the one run, a success
    assert ("db_scheduler_task_success_ratio", labels) not in before
    assert after[("db_scheduler_task_success_ratio", labels)] == 1.0
    (record,) = api.space.runs()
    median = after[("db_scheduler_task_duration_median_seconds", labels)]
    assert median == after[("db_scheduler_task_duration_p95_seconds", labels)]
    assert median == record.data["duration_seconds"]


def test_metrics_queue_depth_follows_the_daemon(api: Api) -> None:
    api.control.gate.clear()
    api.trigger()
    values = metric_values(api)
    assert values[("db_scheduler_queue_depth", ())] == 1
    assert values[("db_scheduler_runs_in_progress", ())] == 1
    api.control.gate.set()
    api.control.wait_idle()


def test_metrics_public_when_configured(api_factory: Any) -> None:
    api = api_factory(metrics_public=True)
    assert api.request("GET", "/metrics", token=None).status == 200


def test_last_success_is_read_back_from_the_history_at_start(
    tmp_path: Path, servers: list[Any]
) -> None:
    api, server = start_api(tmp_path)
    servers.append((api, server))
    api.trigger()
    api.control.wait_idle()
    [record] = api.space.runs()
    fresh = Metrics()
    fresh.seed(RunHistory(api.space.settings.history_path))
    families = {f.name: f for f in text_string_to_metric_families(fresh.exposition().decode())}
    [sample] = families["db_scheduler_last_success_timestamp_seconds"].samples
    finished = datetime.fromisoformat(record.data["finished_at"].replace("Z", "+00:00"))
    assert sample.value == finished.timestamp()
    assert "db_scheduler_runs" not in {f.name for f in families.values() if f.samples}


# --- same data as the CLI's --json -------------------------------------------------------


def cli_json(api: Api, *args: str) -> Any:
    env = {"DATABASE_URL": api.space.env["DATABASE_URL"], "TASKS_FILE": None, "ENV_FILE": None}
    result = CliRunner().invoke(
        cli,
        [
            "--tasks-file",
            str(api.space.store.path),
            "--env-file",
            str(api.space.root / ".env"),
            *args,
        ],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_task_json_matches_the_cli_renderer(api: Api) -> None:
    moment = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST change day in Berlin
    for task in api.space.store.load().tasks:
        assert task_json(task, moment) == render.task_json(task, moment)
        assert task_json(task, moment, 5) == render.task_json(task, moment, 5)


def test_api_lists_and_shows_what_the_cli_does(api: Api) -> None:
    api.trigger()
    api.control.wait_idle()
    listed = api.request("GET", "/api/tasks").json
    cli_listed = cli_json(api, "list", "--json")
    # next_run is computed from "now": equal unless a minute boundary fell between
    for item in (*listed, *cli_listed):
        item.pop("next_run")
    assert listed == cli_listed
    shown = api.request("GET", "/api/tasks/Daily%20sales").json
    cli_shown = cli_json(api, "show", "Daily sales", "--json")
    for item in (shown, cli_shown):
        item.pop("next_run")
        item.pop("upcoming")
    assert shown == cli_shown
    assert len(shown["recent_runs"]) == 1


def test_api_runs_match_history_json(api: Api) -> None:
    for _ in range(3):
        assert api.trigger().status == 202
        api.control.wait_idle()
    runs = api.request("GET", "/api/tasks/Daily%20sales/runs?limit=2").json
    assert runs == cli_json(api, "history", "Daily sales", "-n", "2", "--json")
    assert len(runs) == 2
    assert api.request("GET", "/api/tasks/Daily%20sales/runs?limit=0").status == 400
    assert api.request("GET", "/api/tasks/Daily%20sales/runs?limit=x").status == 400


# --- behind a reverse proxy ---------------------------------------------------------------


def test_trusted_proxy_headers_give_client_address_and_public_url(
    tmp_path: Path, servers: list[Any]
) -> None:
    space = make_workspace(tmp_path)
    metrics = Metrics()
    control = RunnerControl(space, metrics)
    settings = WebhookSettings(
        listen=Listen("127.0.0.1", 0),
        token=TOKEN,
        idempotency_path=tmp_path / "keys.jsonl",
        trusted_proxy="127.0.0.1",
    )
    frozen = [0.0]
    app = create_app(
        control,
        settings,
        context=api_context(space, control),
        metrics=metrics,
        limiter=RateLimiter(1, clock=lambda: frozen[0]),
    )
    server = HttpServer(app, "127.0.0.1", 0, trusted_proxy="127.0.0.1")
    server.start()
    api = Api(server.url, space, control, metrics, settings, frozen)
    servers.append((api, server))
    forwarded = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "reports.example.com",
    }
    first = api.trigger(headers=forwarded)
    assert first.status == 202
    assert first.json["status_url"].startswith("https://reports.example.com/api/runs/")
    assert api.trigger(headers=forwarded).status == 429  # one a minute for 203.0.113.7
    api.control.wait_idle()
    other = api.trigger(headers={**forwarded, "X-Forwarded-For": "198.51.100.9"})
    assert other.status == 202  # another client has its own bucket
    api.control.wait_idle()


# --- safety: the webhook token runs tasks, it never changes them ---------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_the_webhook_token_changes_no_task(api: Api, method: str) -> None:
    """The webhook token is an operator's: it runs tasks; creating, changing or deleting
    one (above all one whose steps run programs) needs an editor or an admin."""
    task = api.task("Daily sales")
    before = api.space.store.path.read_bytes()
    body = json.dumps({"steps": [{"id": "x", "kind": "command", "command": ["id"]}]})
    for path in ("/api/tasks", f"/api/tasks/{task.id}"):
        reply = api.request(
            method, path, body=body.encode(), headers={"Content-Type": "application/json"}
        )
        assert reply.status in (403, 405), (method, path, reply.status)
    assert api.space.store.path.read_bytes() == before
