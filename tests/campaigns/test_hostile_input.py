"""Property-based attacks on the tasks.json loader and the CLI options.

Any JSON document and any option string gives either a valid task or a clean
error (``Error: ...``, exit 1 or 2), never a traceback, and never a changed file.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.cli.app import cli
from src.core.errors import SchedulerError
from src.services.task_store import TaskStore
from src.services.webhook import guard
from tests.daemon_harness import DaemonProcess, Workspace
from tests.fixtures.http import send
from tests.services.scheduler.test_api import LISTENING, TOKEN

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

FIELDS = [
    "schedule",
    "timezone",
    "email",
    "exports",
    "enabled",
    "connection",
    "params",
    "retry",
    "timeout_seconds",
    "created_at",
    "run_count",
    "last_status",
    "query_file",
    "read_only",
]

task_like = st.fixed_dictionaries(
    {"id": st.text(max_size=8), "name": st.text(max_size=12), "query": st.text(max_size=12)},
    optional={
        key: json_values
        | st.sampled_from(["0 9 * * 1-5", "Europe/Berlin", "15m", "a@example.com", "x\ny"])
        for key in FIELDS
    },
) | st.fixed_dictionaries(
    {
        "id": st.just("t1"),
        "name": st.just("T"),
        "query": st.just("SELECT 1"),
        "schedule": st.dictionaries(
            st.sampled_from(["cron", "interval", "once", "start"]),
            st.text(max_size=16) | json_values,
            max_size=2,
        ),
    }
)

VALID = {
    "id": "t1",
    "name": "Daily",
    "query": "SELECT 1",
    "schedule": {"cron": "0 9 * * 1-5"},
    "timezone": "Europe/Berlin",
    "email": {"to": ["a@example.com"], "subject": "{task_name}"},
    "exports": {"xlsx": True, "pdf": {"max_rows": 10}},
}
valid_values = st.sampled_from(
    [
        {"interval": "15m"},
        {"once": "2026-12-01T09:00"},
        "UTC",
        {"to": []},
        {"csv": True},
        True,
        "sales",
        {"max_retries": 1},
        5,
        "2026-01-01T00:00:00Z",
        "success",
    ]
)
mutated_valid = st.dictionaries(
    st.sampled_from(FIELDS), json_values | valid_values, max_size=2
).map(lambda changes: {**VALID, **changes})
plausible = st.dictionaries(st.sampled_from(FIELDS), valid_values, max_size=3).map(
    lambda changes: {**VALID, **changes}
)

documents = (
    st.fixed_dictionaries({"version": st.just(1), "tasks": st.lists(mutated_valid, max_size=1)})
    | st.fixed_dictionaries({"version": st.just(1), "tasks": st.lists(plausible, max_size=1)})
    | json_values
    | st.fixed_dictionaries({"version": st.just(1), "tasks": st.lists(task_like, max_size=3)})
    | st.lists(  # the earlier tool's shape
        st.fixed_dictionaries(
            {"task_id": st.text(max_size=6), "name": st.text(max_size=8)},
            optional={
                "schedule_type": st.sampled_from(["cron", "interval", "once", "date", "x"]),
                "schedule_config": json_values,
                "email_recipients": json_values,
                "query": st.text(max_size=8),
            },
        ),
        max_size=3,
    )
)

SLOW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(document=documents)
def test_any_json_loads_or_fails_cleanly_and_file_is_untouched(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tasks.json"
        raw = json.dumps(document)
        path.write_text(raw)
        store = TaskStore(path)
        try:
            loaded = store.load()
        except SchedulerError as exc:
            assert str(exc).startswith(str(path))
            # a write attempt on a bad file fails the same way and changes nothing
            with pytest.raises(SchedulerError):
                store.update("anything", lambda t: t)
            assert path.read_text() == raw
            return
        # a valid file survives a round trip with the same tasks
        for task in loaded.tasks:
            again = store.parse(json.dumps({"version": 1, "tasks": [task.to_dict()]}).encode())
            assert again.tasks[0].to_dict() == task.to_dict()
        assert path.read_text() == raw


@SLOW
@given(data=st.binary(max_size=200))
def test_any_bytes_fail_cleanly(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tasks.json"
        path.write_bytes(data)
        try:
            loaded = TaskStore(path).load()
        except SchedulerError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert all(task.name for task in loaded.tasks)
        assert path.read_bytes() == data


option_text = st.text(max_size=40) | st.sampled_from(
    [
        "0 9 * * 1-5",
        "Europe/Berlin",
        "15m",
        "2026-12-01T09:00",
        "a@example.com",
        "../../x",
        "{task_name}",
        "{a.b}",
        "{0}",
        "\r\nBcc: x@example.com",
        "-1",
        "@daily",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    option=st.sampled_from(
        [
            "--name",
            "--cron",
            "--every",
            "--at",
            "--timezone",
            "--to",
            "--subject",
            "--connection",
            "--query",
            "--param",
            "--body",
            "--timeout",
        ]
    ),
    value=option_text,
)
def test_any_option_value_gives_a_task_or_a_clean_error(option, value):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tasks.json"
        base = {"--name": "T", "--query": "SELECT 1", "--every": "1h"}
        base[option] = value
        if option in ("--cron", "--at"):
            base.pop("--every")
        args = [arg for pair in base.items() for arg in pair]
        result = CliRunner().invoke(
            cli,
            ["--tasks-file", str(path), "--env-file", str(Path(folder) / ".env"), "add", *args],
            env={"DATABASE_URL": "sqlite:///x.db", "TASKS_FILE": None, "ENV_FILE": None},
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            (task,) = TaskStore(path).load().tasks
            assert task.name == base["--name"].strip()
        else:
            assert result.exit_code in (1, 2)
            assert "Error: " in result.output
            assert not path.exists()


# --- the HTTP API under slow and hostile clients (a real daemon) -------------------------------


def _api_daemon(folder: Path) -> tuple[DaemonProcess, str]:
    space = Workspace(folder)
    space.write_env(WEBHOOK_TOKEN=TOKEN, WEBHOOK_RATE_LIMIT="1000")
    space.add("Sales", "--query", "SELECT * FROM sales", "--cron", "0 9 1 1 *")
    daemon = space.start("--http", "127.0.0.1:0")
    daemon.wait_for(LISTENING)
    line = next(line for line in daemon.lines if LISTENING in line)
    return daemon, line.split(LISTENING, 1)[1].strip()


def _is_closed(conn: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(4096) == b""
    except OSError:
        return True


@pytest.mark.slow
def test_slowloris_leaves_health_answered_and_slow_clients_closed(tmp_path: Path) -> None:
    daemon, url = _api_daemon(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    try:
        opened = time.monotonic()
        slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(150)]
        for conn in slow:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def trickle() -> None:  # a byte each 0.5 s: never idle, never a whole request
            while not stop.is_set():
                for conn in slow:
                    with contextlib.suppress(OSError):
                        conn.send(b"X")
                stop.wait(0.5)

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        time.sleep(1)
        asked = time.monotonic()
        reply = send(url, "GET", "/health", token=None, timeout=5)
        health_seconds = time.monotonic() - asked
        assert reply.status == 200 and health_seconds < 2
        answered = send(url, "GET", "/api/tasks", token=TOKEN, timeout=5)
        assert answered.status == 200 and answered.json[0]["name"] == "Sales"

        open_until: dict[int, float] = {}
        deadline = opened + guard.HEADER_SECONDS + 10
        while len(open_until) < len(slow) and time.monotonic() < deadline:
            for index, conn in enumerate(slow):
                if index not in open_until and _is_closed(conn):
                    open_until[index] = time.monotonic() - opened
            time.sleep(0.1)
        stop.set()
        thread.join(5)
        assert len(open_until) == len(slow), f"{len(slow) - len(open_until)} still open"
        last = max(open_until.values())
        # the last of them were held to the header deadline, not to inactivity
        assert guard.HEADER_SECONDS - 1 <= last <= guard.HEADER_SECONDS + 3
        print(
            f"/health under 150 slow clients: {health_seconds * 1000:.0f} ms; "
            f"{sum(v < 2 for v in open_until.values())} closed to make room at once, "
            f"the last closed after {last:.1f} s"
        )
    finally:
        for conn in slow:
            conn.close()
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.output
    assert "sent no complete request in time" in daemon.output


BAD_NUMBERS = [
    "²",
    "٣",
    "１",
    "-1",
    "0",
    "1001",
    "+5",
    " 5",
    "5 ",
    "0x10",
    "1e3",
    "5.0",
    "",
    "9" * 30,
    "9" * 5000,
    "%00",
    "\u00a0",
]


def test_bad_query_parameters_are_400_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    daemon, url = _api_daemon(tmp_path)
    runs = "/api/tasks/Sales/runs"
    try:
        for value in BAD_NUMBERS:  # limit: the API's one numeric parameter
            reply = send(url, "GET", f"{runs}?limit={quote(value, safe='%')}", token=TOKEN)
            assert reply.status == 400, (value, reply.body)
            assert "give a whole number from 1 to 1000" in reply.json["error"], value
            assert len(reply.json["error"]) < 200  # a 5000-digit value is not echoed back
        repeated = [
            (f"{runs}?limit=5&limit=6", "GET", TOKEN, "limit is given 2 times"),
            (f"{runs}?limit=5&limit=5", "GET", TOKEN, "limit is given 2 times"),
            ("/api/tasks/Sales/run?key=a&key=b", "POST", TOKEN, "key is given 2 times"),
            ("/api/tasks?token=a&token=b", "GET", None, "token is given 2 times"),
        ]
        for path, method, token, message in repeated:
            reply = send(url, method, path, token=token)
            assert reply.status == 400 and message in reply.json["error"], (path, reply.body)
        good = send(url, "GET", f"{runs}?limit=1000", token=TOKEN)
        assert good.status == 200 and good.json == []
    finally:
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.output and " 500 " not in daemon.output


def test_no_number_is_read_with_a_bare_isdigit() -> None:
    """str.isdigit() accepts '²' and '٣', which int() rejects or misreads: a hostile SMTP
    server's SIZE, a port in a URL or systemd's WATCHDOG_USEC must be ASCII digits. Every
    isdigit() in src/ sits beside an isascii() check."""
    from tests.servers import ROOT

    bare = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            near = " ".join(lines[max(number - 2, 0) : number + 1])  # a wrapped condition
            if (
                ".isdigit()" in line
                and "isascii()" not in near
                and not line.lstrip().startswith("#")
            ):
                bare.append(f"{path.relative_to(ROOT)}:{number + 1}")
    assert bare == []
