"""Secrets and access: no password or token leaks, private files stay private.

Runs that fail on purpose, with distinctive secrets:

* a wrong PostgreSQL password (the real test server refuses it);
* a password in the URL of a database that does not answer (connection refused),
  with characters that must be percent-encoded in a URL;
* a wrong SMTP password, with non-ASCII letters, against a real aiosmtpd server that
  requires STARTTLS + AUTH (smtplib once crashed on it and quoted a letter of it, with
  its position, in the error);
* a webhook token, used right, wrong, and (refused) in the URL's query string.

The daemon runs twice (text and ``--log-format json``, both at DEBUG level) and the
HTTP API triggers each task; then every ``manage_tasks.py`` command a person would
use (show, list, history, run, validate, test-connection, test-email, webhook-url)
runs as a real process. Everything printed (stdout, stderr, so any traceback), every
HTTP answer, and every file in the folder except ``.env`` itself (history, tasks.json,
state, exports, run files) is scanned: no secret may appear, in clear or
percent-encoded. URLs are shown with ``***`` in place of the password.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from src.services.settings import Settings
from tests.daemon_harness import DAEMON, ROOT, WAIT, DaemonProcess, Workspace
from tests.fixtures.smtp import TEST_USER, SmtpServer, free_port

DB_PASSWORD = "DbPw7Xq9Zk2Lm"


DOWN_PASSWORD = "Dn/Pw:9Kv@3#x"


SMTP_PASSWORD = "SmtpPw4Jt8Rb-pässwörd"

#: The password's non-ASCII letters as a Python error would quote them ("'\\xe4' in
#: position 14"): a leak of one letter is still a leak.
_ESCAPED = tuple(
    form
    for ch in sorted({c for c in SMTP_PASSWORD if not c.isascii()})
    for form in (ch, ascii(ch)[1:-1], f"\\u{ord(ch):04x}")
)


TOKEN = "WhTok" + "5Yc3Np8Qw1" * 4


SECRETS = (DB_PASSWORD, DOWN_PASSWORD, quote(DOWN_PASSWORD, safe=""), SMTP_PASSWORD, TOKEN)


TASKS = ("Wrong db password", "Db down", "Wrong smtp password")


def leaks(text: str) -> list[str]:
    """The secrets found in ``text`` (whole, or their first 8 characters), and the SMTP
    password's non-ASCII letters as an error message escapes them."""
    found = [s for s in SECRETS if s in text or s[:8] in text]
    return found + [form for form in _ESCAPED if form in text]


class Api:
    def __init__(self, port: int) -> None:
        self.port = port
        self.bodies: list[str] = []

    def call(self, method: str, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request(method, path, body=b"" if method == "POST" else None, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8")
        finally:
            conn.close()
        self.bodies.append(text)
        return response.status, json.loads(text) if text.startswith(("{", "[")) else text

    def wait_up(self) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.call("GET", "/health", token=None)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture
def space(
    tmp_path: Path, pg_url: str, smtp_tls_server: SmtpServer, refusing_port: int
) -> Workspace:
    space = Workspace(tmp_path)
    wrong_pg = make_url(pg_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    down = (
        f"postgresql+psycopg2://report:{quote(DOWN_PASSWORD, safe='')}@127.0.0.1:{refusing_port}/x"
    )
    space.write_env(
        DB_PGBAD_URL=wrong_pg,
        DB_DOWN_URL=down,
        SMTP_RETRIES="1",
        HTTP_LISTEN=f"127.0.0.1:{free_port()}",
        WEBHOOK_TOKEN=TOKEN,
        WEBHOOK_RATE_LIMIT="0",
        **smtp_tls_server.env(SMTP_PASSWORD=SMTP_PASSWORD),
    )
    assert smtp_tls_server.user == TEST_USER
    common = ("--every", "1h", "--retries", "0")
    space.add(TASKS[0], "--connection", "pgbad", "--query", "SELECT 1 AS one", *common)
    space.add(TASKS[1], "--connection", "down", "--query", "SELECT 1 AS one", *common)
    space.add(TASKS[2], "--query", "SELECT * FROM sales", *common)
    return space


def _daemon_pass(space: Workspace, log_format: str) -> tuple[str, list[str]]:
    """Start the daemon, hit the API (wrong, URL and right tokens), trigger each task."""
    daemon: DaemonProcess = space.start("--log-level", "DEBUG", "--log-format", log_format)
    try:
        daemon.wait_for("Scheduler is running")
        api = Api(int(space.env["HTTP_LISTEN"].rsplit(":", 1)[1]))
        api.wait_up()
        first = space.task(TASKS[0])["id"]
        assert api.call("POST", f"/api/tasks/{first}/run", token="not-" + TOKEN[::-1])[0] == 401
        assert api.call("POST", f"/api/tasks/{first}/run?token={TOKEN}", token=None)[0] == 401
        assert api.call("GET", f"/api/tasks/{first}")[0] == 200
        assert api.call("GET", "/api/tasks")[0] == 200
        assert api.call("GET", "/metrics")[0] == 200
        finished = daemon.count("finished: ")
        run_ids = []
        for name in TASKS:
            status, body = api.call("POST", f"/api/tasks/{space.task(name)['id']}/run")
            assert status == 202, body
            run_ids.append(body["run_id"])
        daemon.wait_for("finished: ", count=finished + len(TASKS))
        for run_id in run_ids:
            status, body = api.call("GET", f"/api/runs/{run_id}")
            assert status == 200 and body["status"] == "failed", body
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.kill()
    return daemon.output, api.bodies


def _cli(space: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage_tasks.py"), *space.daemon_args(), *args],
        cwd=space.folder,
        env=space.process_env({}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_secret_in_logs_history_files_outputs_or_answers(space: Workspace) -> None:
    seen: dict[str, str] = {}
    for log_format in ("text", "json"):
        output, bodies = _daemon_pass(space, log_format)
        seen[f"daemon log ({log_format})"] = output
        seen[f"HTTP answers ({log_format} pass)"] = "\n".join(bodies)
    json_lines = [json.loads(line) for line in seen["daemon log (json)"].splitlines()]
    assert any(e.get("status") == "failed" for e in json_lines)  # the failures were logged

    records = space.runs()
    assert len(records) == 2 * len(TASKS) and {r.status for r in records} == {"failed"}
    errors = {r.task_name: r.data["error"]["message"] for r in records}
    assert "password authentication failed" in errors[TASKS[0]]  # the real server said no
    assert "535" in errors[TASKS[2]] or "authentication" in errors[TASKS[2]].lower()

    commands = [
        ["list"],
        ["history"],
        ["validate"],
        ["test-connection", "pgbad"],
        ["test-connection", "down"],
        ["test-email", "--to", "me@example.com"],
        *(["show", name] for name in TASKS),
        *(["history", name] for name in TASKS),
        *(["run", name] for name in TASKS),
        ["webhook-url", TASKS[0]],
    ]
    for args in commands:
        done = _cli(space, *args)
        seen[f"manage_tasks.py {' '.join(args)} (exit {done.returncode})"] = (
            done.stdout + done.stderr
        )
        if args[0] in ("run", "test-connection", "test-email"):
            assert done.returncode == 1, done.stdout + done.stderr  # failed, cleanly
            assert "Traceback" not in done.stderr
    down = seen["manage_tasks.py test-connection down (exit 1)"]
    assert "report:***@127.0.0.1" in down  # the URL is shown, its password masked

    binary: set[str] = set()
    for path in sorted(space.folder.rglob("*")):
        if path.is_file() and path != space.env_file:
            where = str(path.relative_to(space.folder))
            data = path.read_bytes()
            try:
                seen[where] = data.decode("utf-8")
            except UnicodeDecodeError:  # a database page, a zip: any two bytes occur by
                binary.add(where)  # chance there, so one letter of a secret proves nothing
                seen[where] = data.decode("utf-8", "replace")
    assert "data/runs.jsonl" in seen and "tasks.json" in seen
    # the detector finds every secret where they do belong: .env (with the bare ä and ö)
    assert len(leaks(space.env_file.read_text(encoding="utf-8"))) == len(SECRETS) - 1 + 2
    found = {
        where: hits
        for where, text in seen.items()
        if (hits := [h for h in leaks(text) if len(h) > 1 or where not in binary])
    }
    assert found == {}, f"secrets leaked: {found}"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bool, int]]:
    """What a daemon run (``--once``, under the usual umask 022) writes in DATA_DIR:
    relative path -> (is a folder, permission bits)."""
    space = Workspace(tmp_path_factory.mktemp("modes"))
    space.add("Sales", "--query", "SELECT * FROM sales", "--every", "1h", "--xlsx", "--pdf")
    space.edit_json(_backdate)
    old = os.umask(0o022)
    try:
        done = subprocess.run(
            [sys.executable, str(DAEMON), *space.daemon_args(), "--once"],
            cwd=space.folder,
            env=space.process_env({}),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    data_dir = Settings.from_env(space.env, base_dir=space.folder).data_dir
    paths = [data_dir, *data_dir.rglob("*")]
    return {
        str(p.relative_to(space.folder)): (p.is_dir(), stat.S_IMODE(p.stat().st_mode))
        for p in paths
    }


def test_reports_history_and_outbox_files_are_not_world_readable(
    written: dict[str, tuple[bool, int]],
) -> None:
    files = {path: mode for path, (is_dir, mode) in written.items() if not is_dir}
    assert {Path(p).suffix for p in files} >= {".xlsx", ".pdf", ".csv", ".eml", ".jsonl"}
    assert {p: f"{m:04o}" for p, m in files.items() if m & stat.S_IROTH} == {}


def test_folders_the_daemon_creates_are_not_world_listable(
    written: dict[str, tuple[bool, int]],
) -> None:
    folders = {path: mode for path, (is_dir, mode) in written.items() if is_dir}
    assert "data/outbox" in folders and "data/scheduler" in folders
    assert {p: f"{m:04o}" for p, m in folders.items() if m & stat.S_IROTH} == {}


def _backdate(document: dict[str, Any]) -> None:
    from datetime import timedelta

    from src.core.clock import now, to_utc_iso

    moment = to_utc_iso(now() - timedelta(minutes=90))
    for item in document["tasks"]:
        item["created_at"] = moment
        item["schedule"]["start"] = moment
