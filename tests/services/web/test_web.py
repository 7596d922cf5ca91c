"""The web pages in a real headless Chromium against the REAL daemon
(scheduler_daemon.py --http on a temp folder, one per test module): what a person does.

The test of the package src/services/web/ as a whole: src/services/web/common.py,
src/services/web/dashboard.py, src/services/web/task_pages.py,
src/services/web/task_form.py, src/services/web/task_fields.py,
src/services/web/report_fields.py (the columns, locale and chart of a report),
src/services/web/run_pages.py,
src/services/web/admin_pages.py. Security (CSRF, XSS) is in test_web_security.py,
accessibility and the docs' pictures in test_web_pages.py, the chart in test_charts.py.

Logins are throttled (5 a minute per address), so each user logs in once per module and
its cookie is reused by the tests' browser contexts (:func:`as_user`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from src.core.column_format import read_columns
from src.core.errors import ValidationError
from src.core.schedule import parse_schedule
from src.core.task import Task
from src.services.auth.roles import Role
from src.services.task_changes import definition_form
from src.services.web.task_fields import (
    exports_as_written,
    input_for,
    merge,
    read_form,
    values_of,
)
from tests.daemon_harness import WAIT, DaemonProcess, Workspace
from tests.fixtures.http import Reply, send
from tests.services.api.test_api import LISTENING, PASSWORD, make_space

#: Playwright's waits, in ms: a guard against a hang, never a timing claim.
TIMEOUT_MS = WAIT * 1000
SALES_QUERY = "SELECT region, amount FROM sales ORDER BY id"


@dataclass
class Site:
    url: str
    space: Workspace
    daemon: DaemonProcess
    tokens: dict[Role, str]
    cookies: dict[str, Any] = field(default_factory=dict)

    def api(self, method: str, path: str, role: Role = Role.ADMIN, **kwargs: Any) -> Reply:
        return send(self.url, method, path, token=self.tokens[role], timeout=WAIT, **kwargs)

    def run(self, task_id: str) -> dict[str, Any]:
        """Run the task through the API (once the daemon has loaded it) and wait for its
        end; its record."""
        deadline = time.monotonic() + WAIT
        while (reply := self.api("POST", f"/api/tasks/{task_id}/run", Role.OPERATOR)).status == 503:
            assert time.monotonic() < deadline, reply.body  # not loaded yet: within 2 s
            time.sleep(0.2)
        assert reply.status == 202, reply.body
        run_id = reply.json["run_id"]
        while time.monotonic() < deadline:
            found = self.api("GET", f"/api/runs/{run_id}")
            if found.status == 200 and found.json["status"] not in ("queued", "running"):
                return dict(found.json)
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not end:\n{self.daemon.output}")


def start_site(folder: Path) -> Iterator[Site]:
    space, tokens = make_space(folder)
    daemon = space.start("--http", "127.0.0.1:0")
    try:
        daemon.wait_for(LISTENING)
        line = next(line for line in daemon.lines if LISTENING in line)
        yield Site(line.split(LISTENING, 1)[1].strip(), space, daemon, tokens)
    finally:
        if daemon.process.poll() is None:
            daemon.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from start_site(tmp_path_factory.mktemp("web"))


@dataclass
class Watch:
    """What a page did that a test must hear of: dialogs (a script that ran: XSS),
    uncaught errors, console errors (a CSP refusal is one)."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> Any:
        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", self.console)
        return page

    def console(self, message: Any) -> None:
        # a 4xx the test asked for is logged as "Failed to load resource": the tests check
        # those statuses themselves; anything else (a CSP refusal) is an error
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")


def login_cookies(browser: Any, site: Site, user: str) -> Any:
    """The session cookie of ``user``, logged in once through the login form."""
    if user not in site.cookies:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{site.url}/login")
            page.fill("#name", user)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{site.url}/", timeout=TIMEOUT_MS)
            site.cookies[user] = context.storage_state()
        finally:
            context.close()
    return site.cookies[user]


@contextmanager
def as_user(
    browser: Any, site: Site, user: str, *, width: int = 1100, bypass_csp: bool = False
) -> Iterator[tuple[Any, Watch]]:
    """A page of a fresh browser context logged in as ``user``; on leaving, no dialog may
    have opened and no error been logged."""
    context = browser.new_context(
        storage_state=login_cookies(browser, site, user),
        viewport={"width": width, "height": 900},
        accept_downloads=True,
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch()
    context.on("page", watch.attach)
    try:
        page = context.new_page()
        yield page, watch
        assert watch.dialogs == [], f"a script ran: {watch.dialogs}"
        assert watch.errors == [], watch.errors
    finally:
        context.close()


def csrf_of(page: Any) -> str:
    return str(page.evaluate("async () => (await (await fetch('/api/session')).json()).csrf_token"))


def fetch_status(page: Any, method: str, path: str, headers: dict[str, str], body: str) -> int:
    """The status of a request the page's own script makes (its cookie goes with it)."""
    return int(
        page.evaluate(
            """async ([method, path, headers, body]) =>
                (await fetch(path, {method, headers, body})).status""",
            [method, path, headers, body],
        )
    )


# --- the form's pieces (no daemon) -----------------------------------------------------------


def test_each_message_goes_beside_its_input() -> None:
    assert input_for("schedule.cron") == "schedule_value"
    assert input_for("schedule") == "schedule_value"
    assert input_for("schedule.start") == "schedule_start"
    assert input_for("email.to[2]") == "email_to"
    assert input_for("exports.pdf.max_rows") == "export_pdf_options"
    assert input_for("retry.backoff") == "retry_backoff"
    assert input_for("timezone") == "timezone"
    assert input_for("columns.amount.format") == "columns"
    assert input_for("steps[0].run") == "form"  # no input of its own: above the form
    # a column's settings: in the row that names it (a name may hold dots: the longest)
    rows = ["revenue", "", "a.b", "a"]
    assert input_for("columns.revenue.currency", rows) == "col_0_currency"
    assert input_for("columns.revenue.highlight[1].style", rows) == "col_0_highlight"
    assert input_for("columns.revenue.words", rows) == "col_0_true"
    assert input_for("columns.revenue.colour", rows) == "col_0_name"  # unknown setting
    assert input_for("columns.revenue", rows) == "col_0_name"
    assert input_for("columns.a.b.format", rows) == "col_2_format"
    assert input_for("columns.a.format", rows) == "col_3_format"
    assert input_for("columns (row 2)", rows) == "col_1_name"  # the form's own: no name
    assert input_for("columns.other.label", rows) == "columns"  # no row: the fieldset
    assert input_for("chart.y", rows) == "chart_y"
    assert input_for("chart.colour", rows) == "chart_type"
    assert input_for("locale", rows) == "locale"


def test_the_form_reads_into_the_tasks_json_form() -> None:
    data, errors = read_form(
        {
            "name": "Daily",
            "query": "SELECT 1",
            "schedule_kind": "interval",
            "schedule_value": "6h",
            "schedule_start": "2026-11-01T00:00",
            "timezone": "UTC",
            "export_xlsx": "on",
            "export_pdf_options": '{"max_rows": 10}',
            "email_to": "a@example.com, b@example.com\nc@example.com",
            "timeout_seconds": "90",
            "retry_max_retries": "1",
            "retry_delay_seconds": "2.5",
            "retry_backoff": "x",
            "params": "{not json",
        }
    )
    assert data["schedule"] == {"interval": "6h", "start": "2026-11-01T00:00"}
    assert data["exports"] == {
        "xlsx": True,
        "pdf": {"max_rows": 10, "enabled": False},
        "csv": False,
    }
    assert data["email"]["to"] == ["a@example.com", "b@example.com", "c@example.com"]
    assert data["timeout_seconds"] == 90 and data["retry"]["delay_seconds"] == 2.5
    assert data["retry"]["backoff"] == "x"  # the model refuses it in its own words
    assert data["enabled"] is False and "params" not in data
    assert [e.field for e in errors] == ["params"] and "not valid JSON" in errors[0].message


def test_the_column_rows_chart_and_locale_read_into_the_tasks_json_form() -> None:
    data, errors = read_form(
        {
            "name": "Daily",
            "col_0_name": " revenue ",
            "col_0_label": "Revenue",
            "col_0_format": "currency",
            "col_0_currency": "eur",
            "col_0_decimals": "0",
            "col_0_thousands": "off",
            "col_0_total": "sum",
            "col_0_highlight": "<0=negative; >=1000=strong",
            "col_1_name": "",  # an empty row: left out
            "col_1_thousands": "",
            "col_2_name": "id",
            "col_2_hidden": "on",
            "col_3_label": "No name",  # settings without a name
            "col_4_name": "id",  # a name twice
            "col_5_name": "paid",
            "col_5_highlight": "below zero",
            "locale": "de",
            "chart_type": "bar",
            "chart_x": "region",
            "chart_y": "revenue, cost,",
        }
    )
    assert data["columns"] == {
        "revenue": {
            "label": "Revenue",
            "format": "currency",
            "decimals": 0,
            "currency": "EUR",
            "thousands": False,
            "total": "sum",
            "highlight": [
                {"when": "< 0", "style": "negative"},
                {"when": ">= 1000", "style": "strong"},
            ],
        },
        "id": {"hidden": True},
        "paid": {},
    }
    assert data["locale"] == "de"
    assert data["chart"] == {"type": "bar", "x": "region", "y": ["revenue", "cost"]}
    found = {e.field: e.message for e in errors}
    assert found.keys() == {"columns (row 4)", "columns (row 5)", "columns.paid.highlight"}
    assert found["columns (row 4)"].startswith("has settings (label) but no column name")
    assert (
        found["columns (row 5)"] == "'id' is the column of row 3 already; give each column one row"
    )
    assert found["columns.paid.highlight"].startswith("'below zero' is not an operator, a number")
    # no chart: none, and nothing typed; a chart without a type goes to the model to refuse
    assert "chart" not in read_form({"chart_type": "none"})[0]
    assert read_form({"chart_type": "none", "chart_x": "region"})[0]["chart"] == {
        "x": "region",
        "y": [],
    }
    assert "columns" not in read_form({"col_0_name": " "})[0]


#: Every report knob a task can turn (src/core/column_format.py, highlight.py, chart.py).
RICH_COLUMNS = {
    "region": {"label": "Region"},
    "amount": {
        "label": "Amount (CHF)",
        "format": "currency",
        "decimals": 0,
        "currency": "CHF",
        "thousands": False,
        "total": "sum",
        "highlight": [{"when": "< 0", "style": "negative"}, {"when": ">= 1000.5", "style": "fill"}],
    },
    "paid": {"format": "boolean", "words": ["paid", "open"], "total": "count"},
    "day": {"format": "date", "pattern": "dd.mm.yyyy"},
    "share": {"format": "percent", "decimals": 1, "thousands": True, "total": "avg"},
    "id": {"hidden": True},
}
RICH_QUERY = (
    "SELECT region, amount, amount > 10 AS paid, '2026-01-31' AS day, amount / 100.0 AS share, "
    "id FROM sales ORDER BY id"
)
RICH_CHART = {"type": "bar", "x": "region", "y": ["amount", "share"], "title": "Sales: by region"}


def test_the_form_of_a_task_reads_back_into_the_same_task() -> None:
    task = Task.from_dict(
        {
            "id": "rich",
            "name": "Rich",
            "query": RICH_QUERY,
            "schedule": {"cron": "0 9 * * *"},
            "timezone": "UTC",
            "columns": RICH_COLUMNS,
            "locale": "de_CH",
            "chart": RICH_CHART,
        },
        default_timezone="UTC",
    )
    data, errors = read_form(values_of(task))
    assert errors == []
    form = definition_form(task)
    assert form["columns"] == RICH_COLUMNS  # the test's own shape is the model's
    for key in ("columns", "locale", "chart"):
        assert data[key] == form[key], key


def test_an_unchanged_export_is_written_as_the_task_wrote_it() -> None:
    form = {"xlsx": True, "pdf": {"max_rows": 100, "enabled": True}, "csv": False}
    assert exports_as_written(form, {"xlsx": True, "pdf": {"max_rows": 100}}) == {
        "xlsx": True,
        "pdf": {"max_rows": 100},
    }
    assert exports_as_written(form, {"xlsx": {}, "csv": False, "pdf": True}) == {
        "xlsx": {},  # on, without options: as written
        "pdf": {"max_rows": 100, "enabled": True},  # options added: the form's
        "csv": False,
    }
    turned_off = {"xlsx": False, "pdf": False, "csv": False}
    assert exports_as_written(turned_off, {"xlsx": True}) == {"xlsx": False}


def test_after_a_conflict_the_form_holds_their_changes_under_mine() -> None:
    base = {"email_to": "a@example.com", "email_subject": "S", "name": "T", "timezone": "UTC"}
    mine = {**base, "email_subject": "Mine", "timezone": "Europe/Berlin"}
    theirs = {**base, "email_to": "cli@example.com", "timezone": "Asia/Tokyo"}
    merged, report = merge(base, mine, theirs)
    assert merged["email_to"] == "cli@example.com"  # only they changed it
    assert merged["email_subject"] == "Mine"  # only I did
    assert merged["timezone"] == "Europe/Berlin"  # both: mine stays, theirs is shown
    assert {(r["input"], r["kept"]) for r in report} == {
        ("email_to", "theirs"),
        ("timezone", "yours"),
    }


# --- in the browser ------------------------------------------------------------------------


def _cron_message(expression: str) -> str:
    """What add/edit/validate say about ``expression`` (the model's parser)."""
    with pytest.raises(ValidationError) as caught:
        parse_schedule({"cron": expression}, ZoneInfo("UTC"), datetime.now(UTC))
    return caught.value.message


def test_an_editor_creates_runs_downloads_edits_disables_and_deletes_a_task(
    site: Site, browser: Any
) -> None:
    name = "Regional sales"
    with as_user(browser, site, "editor-user") as (page, _):
        # create, with a bad cron: the message by the field, in the CLI's words
        page.goto(f"{site.url}/tasks")
        page.click("text=New task")
        page.fill("#f-name", name)
        page.fill("#f-query", SALES_QUERY)
        page.fill("#f-timezone", "Europe/Berlin")
        page.fill("#f-email_to", "boss@example.com")
        page.fill("#f-schedule_value", "61 8 * * *")
        message = _cron_message("61 8 * * *")
        page.locator("#preview-error").filter(has_text=message).wait_for()  # as typed
        page.click("#save")
        beside = page.locator(".field:has(#f-schedule_value) .field-error")
        assert message in beside.inner_text()
        described = page.get_attribute("#f-schedule_value", "aria-describedby") or ""
        assert "err-schedule_value" in described.split()
        assert page.locator("#error-summary").is_visible()
        assert not site.space.tasks_file.exists() or name not in site.space.tasks_file.read_text()
        assert page.input_value("#f-query") == SALES_QUERY  # nothing typed is lost
        # fix it: the next 5 runs show as it is typed, in the zone typed
        page.fill("#f-schedule_value", "0 8 * * 1-5")
        page.locator("#preview-next li").nth(4).wait_for()
        assert page.locator("#preview-next li").count() == 5
        assert all(" CE" in t for t in page.locator("#preview-next li").all_inner_texts())
        page.click("#save")
        page.wait_for_url("**/tasks/*?done=created")
        stored = site.space.task(name)
        assert stored["schedule"] == {"cron": "0 8 * * 1-5"}
        assert stored["timezone"] == "Europe/Berlin" and stored["exports"]["xlsx"] is True
        assert page.locator("#upcoming li").count() == 5
        task_page = page.url.split("?")[0]
        site.daemon.wait_for(name)  # the daemon loaded it

        # run it now; the runs page, open meanwhile, shows it start and end without reloading
        runs = page.context.new_page()
        runs.goto(f"{site.url}/runs")
        runs.evaluate("window.notReloaded = true")
        assert runs.locator("#run-table tr", has_text=name).count() == 0
        page.click("#run-now")
        page.wait_for_url("**/runs/*")
        row = runs.locator("#run-table tbody tr", has_text=name)
        row.locator(".status", has_text="success").wait_for()
        assert runs.evaluate("window.notReloaded") is True
        assert "updates every 2 seconds" in runs.inner_text("#live-state")

        # its xlsx, downloaded from the task's page, opens in openpyxl with the rows
        page.goto(task_page)
        link = page.locator("#task-runs a[href*='/files/']", has_text=".xlsx")
        with page.expect_download() as download:
            link.click()
        saved = site.space.folder / "downloaded.xlsx"
        download.value.save_as(saved)
        sheet = openpyxl.load_workbook(saved).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == ("region", "amount") and len(rows) == 51
        assert rows[1] == ("north", 0)

        # edit
        page.click("#edit")
        page.fill("#f-email_subject", "Sales by region {run_date:%Y-%m-%d}")
        page.click("#save")
        page.wait_for_url("**?done=saved")
        assert site.space.task(name)["email"]["subject"] == "Sales by region {run_date:%Y-%m-%d}"
        assert site.space.task(name)["schedule"] == {"cron": "0 8 * * 1-5"}  # the rest kept

        # disable
        page.click("#disable")
        page.wait_for_url("**?done=disabled")
        assert page.inner_text("#enabled-state") == "no"
        assert site.space.task(name)["enabled"] is False
        assert page.locator("#enable").is_visible()

        # delete, after a confirmation page
        page.click("#delete")
        assert "Delete" in page.inner_text("h1")
        assert name in [t["name"] for t in site.space.document()["tasks"]]  # not yet
        page.click("#confirm-delete")
        page.wait_for_url("**/tasks?deleted=1")
        assert name not in [t["name"] for t in site.space.document()["tasks"]]
    actions = [
        (entry["action"], entry["actor"], entry["via"])
        for entry in map(json.loads, (site.space.data / "audit.jsonl").read_text().splitlines())
        if entry.get("task_name") == name
    ]
    assert actions == [
        ("task.create", "user:editor-user", "web"),
        ("task.run", "user:editor-user", "web"),
        ("task.update", "user:editor-user", "web"),
        ("task.disable", "user:editor-user", "web"),
        ("task.delete", "user:editor-user", "web"),
    ]


def test_a_viewer_sees_no_button_it_cannot_use_and_the_server_refuses_it(
    site: Site, browser: Any
) -> None:
    task_id = site.space.add("Viewed", "--query", SALES_QUERY, "--cron", "0 9 * * *")
    before = site.space.tasks_file.read_bytes()
    with as_user(browser, site, "viewer-user") as (page, _):
        page.goto(f"{site.url}/tasks/{task_id}")
        assert page.inner_text("#task-name") == "Viewed"
        assert page.locator("#task-actions button, #task-actions a").count() == 0
        page.goto(f"{site.url}/tasks")
        assert page.locator("text=New task").count() == 0
        page.goto(f"{site.url}/scheduler")
        assert page.locator("#pause, #resume").count() == 0
        page.goto(f"{site.url}/connections")
        assert page.locator("#connection-table button").count() == 0
        assert page.inner_text(".who").startswith("viewer-user (viewer)")
        # the server refuses anyway: the API with the viewer's cookie and CSRF token ...
        csrf = csrf_of(page)
        headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf, "If-Match": "*"}
        assert (
            fetch_status(page, "PATCH", f"/api/tasks/{task_id}", headers, '{"description": "x"}')
            == 403
        )
        # ... and the pages' own forms, with the right token
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for path in ("disable", "run", "delete", "edit"):
            status = fetch_status(
                page, "POST", f"/tasks/{task_id}/{path}", form, f"csrf_token={csrf}"
            )
            assert status == 403, path
        assert fetch_status(page, "POST", "/scheduler/pause", form, f"csrf_token={csrf}") == 403
        page.goto(f"{site.url}/tasks/{task_id}/edit")
        assert "has the role viewer" in page.inner_text("#error-message")
    token = site.api("DELETE", f"/api/tasks/{task_id}", Role.VIEWER, headers={"If-Match": "*"})
    assert token.status == 403
    assert site.space.tasks_file.read_bytes() == before


def test_an_operator_may_run_and_disable_but_not_edit(site: Site, browser: Any) -> None:
    task_id = site.space.add("Operated", "--query", SALES_QUERY, "--cron", "0 9 * * *")
    with as_user(browser, site, "operator-user") as (page, _):
        page.goto(f"{site.url}/tasks/{task_id}")
        assert page.locator("#run-now").is_visible() and page.locator("#disable").is_visible()
        assert page.locator("#edit, #delete").count() == 0
        page.click("#disable")
        page.wait_for_url("**?done=disabled")
    assert site.space.task("Operated")["enabled"] is False


def test_an_editor_and_a_cli_user_at_once_the_second_save_gets_the_conflict(
    site: Site, browser: Any
) -> None:
    task_id = site.space.add("Shared", "--query", SALES_QUERY, "--cron", "0 9 * * *")
    with as_user(browser, site, "editor-user") as (page, _):
        page.goto(f"{site.url}/tasks/{task_id}/edit")
        page.fill("#f-email_subject", "From the browser")
        # meanwhile, at the shell
        site.space.cli("edit", "Shared", "--to", "cli@example.com")
        page.click("#save")
        conflict = page.locator("#conflict")
        conflict.wait_for()
        assert "Nothing was saved" in conflict.inner_text()
        assert "email_to" in conflict.inner_text()
        stored = site.space.task("Shared")
        assert stored["email"]["to"] == ["cli@example.com"]  # the CLI's change is kept
        assert stored["email"].get("subject") != "From the browser"  # the stale save: refused
        # the form holds both: theirs under mine; saved again, nothing is lost
        assert page.input_value("#f-email_to") == "cli@example.com"
        assert page.input_value("#f-email_subject") == "From the browser"
        page.click("#save")
        page.wait_for_url("**?done=saved")
    stored = site.space.task("Shared")
    assert stored["email"]["to"] == ["cli@example.com"]
    assert stored["email"]["subject"] == "From the browser"


def test_the_dashboard_counts_and_charts_the_runs(site: Site, browser: Any) -> None:
    task_id = site.space.add("Charted", "--query", SALES_QUERY, "--cron", "0 9 * * *")
    site.daemon.wait_for("Charted")
    run = site.run(task_id)
    assert run["status"] == "success"
    with as_user(browser, site, "editor-user") as (page, _):
        page.goto(f"{site.url}/")
        assert "Healthy" in page.inner_text("#health")
        success = page.locator("#day-counts dd a[href='/runs?status=success']")
        assert int(success.inner_text()) >= 1
        bars = page.locator("#dashboard-chart rect.bar")
        assert bars.count() >= 1
        labels = bars.locator("title").all_text_contents()
        assert any(label.startswith("Charted: ") and label.endswith("success") for label in labels)
        assert "runs from" in page.inner_text("#dashboard-chart figcaption")
        # the run's page: lines, rows, files, email
        page.goto(f"{site.url}/runs/{run['run_id']}")
        assert page.inner_text("#run-status") == "success"
        assert page.inner_text("#run-rows") == "50"
        assert page.locator("#run-files a").count() == 1
        assert "boss@example.com" in page.inner_text("#run-email")
        events = page.locator("#run-lines tbody tr td:first-child").all_inner_texts()
        assert events[0] == "started" and events[-1] == "finished"


def test_the_task_list_filters_sorts_and_pages(site: Site, browser: Any) -> None:
    for n in range(3):
        site.space.add(f"Listed {n}", "--query", SALES_QUERY, "--every", f"{n + 1}h")
    site.space.cli("disable", "Listed 1")
    with as_user(browser, site, "viewer-user") as (page, _):
        page.goto(f"{site.url}/tasks?q=listed&sort=-name")
        names = page.locator("#task-table tbody td:first-child").all_inner_texts()
        assert names == ["Listed 2", "Listed 1", "Listed 0"]
        page.select_option("#enabled", "no")  # applies at once (script)
        page.wait_for_url("**enabled=no**")
        assert page.locator("#task-table tbody td:first-child").all_inner_texts() == ["Listed 1"]
        page.goto(f"{site.url}/tasks?kind=interval")
        assert {"Listed 0", "Listed 2"} <= set(
            page.locator("#task-table tbody td:first-child").all_inner_texts()
        )
        assert "Regional" not in page.inner_text("#task-table")
        page.goto(f"{site.url}/tasks?kind=weekly")
        assert "is not one of" in page.inner_text("#error-message")


def test_an_editor_sets_a_columns_format_total_highlight_a_chart_and_a_locale(
    site: Site, browser: Any
) -> None:
    task_id = site.space.add("Formatted", "--query", SALES_QUERY, "--cron", "0 9 * * *")
    with as_user(browser, site, "editor-user") as (page, _):
        page.goto(f"{site.url}/tasks/{task_id}/edit")
        page.fill("#f-col_0_name", "amount")
        page.fill("#f-col_0_label", "Amount")
        page.select_option("#f-col_0_format", "currency")
        page.fill("#f-col_0_currency", "EURO")
        page.select_option("#f-col_0_total", "sum")
        page.fill("#f-col_0_highlight", "<0=negative")
        # a fourth row, from the "Add a column" button (three empty rows are served)
        assert page.locator("fieldset.column-row").count() == 3
        page.click("#add-column")
        assert page.locator("fieldset.column-row").count() == 4
        assert page.evaluate("document.activeElement.id") == "f-col_3_name"
        assert "Column 4" in page.inner_text("fieldset.column-row >> nth=3")
        page.fill("#f-col_3_name", "region")
        page.fill("#f-col_3_label", "Region")
        page.select_option("#f-chart_type", "bar")
        page.fill("#f-chart_x", "region")
        page.fill("#f-chart_y", "amount")
        page.fill("#f-chart_title", "Sales by region")
        page.select_option("#f-locale", "de")
        page.click("#save")
        # a currency not in ISO 4217: the model's words, beside the currency box
        _, model_errors = read_columns({"amount": {"format": "currency", "currency": "EURO"}})
        message = f"columns.amount.currency: {model_errors[0].message}"
        assert "'EURO' is not an ISO 4217 currency code" in message
        beside = page.locator(".field:has(#f-col_0_currency) .field-error")
        assert beside.inner_text() == message
        described = page.get_attribute("#f-col_0_currency", "aria-describedby") or ""
        assert "err-col_0_currency" in described.split()
        assert page.get_attribute("#f-col_0_currency", "aria-invalid") == "true"
        assert message in page.inner_text("#error-summary")
        assert "columns" not in site.space.task("Formatted")  # nothing saved
        # nothing typed is lost, the added row neither
        assert page.input_value("#f-col_3_label") == "Region"
        assert page.input_value("#f-chart_type") == "bar"
        assert page.input_value("#f-locale") == "de"
        page.fill("#f-col_0_currency", "EUR")
        page.click("#save")
        page.wait_for_url("**?done=saved")
    reply = site.api("GET", f"/api/tasks/{task_id}")
    assert reply.status == 200, reply.body
    saved = reply.json
    assert saved["columns"] == {
        "amount": {
            "label": "Amount",
            "format": "currency",
            "currency": "EUR",
            "total": "sum",
            "highlight": [{"when": "< 0", "style": "negative"}],
        },
        "region": {"label": "Region"},
    }
    assert saved["chart"] == {
        "type": "bar",
        "x": "region",
        "y": ["amount"],
        "title": "Sales by region",
    }
    assert saved["locale"] == "de"
    assert site.space.task("Formatted")["columns"] == saved["columns"]  # tasks.json too


def test_a_task_with_every_report_knob_comes_back_unchanged_from_a_save_of_its_form(
    site: Site, browser: Any
) -> None:
    body = {
        "name": "Every knob",
        "query": RICH_QUERY,
        "schedule": {"cron": "0 9 * * 1-5"},
        "timezone": "Europe/Zurich",
        "columns": RICH_COLUMNS,
        "locale": "de_CH",
        "chart": RICH_CHART,
        "exports": {"xlsx": True, "pdf": {"max_rows": 100}},
        "email": {"to": ["boss@example.com"], "subject": "Sales {run_date:%Y-%m-%d}"},
    }
    headers = {"Content-Type": "application/json"}
    reply = site.api("POST", "/api/tasks", headers=headers, body=json.dumps(body).encode())
    assert reply.status == 201, reply.body
    task_id = reply.json["id"]
    before = site.space.task("Every knob")
    assert before["columns"] == RICH_COLUMNS and before["chart"] == RICH_CHART
    with as_user(browser, site, "editor-user") as (page, _):
        page.goto(f"{site.url}/tasks/{task_id}/edit")
        assert page.input_value("#f-col_1_highlight") == "<0=negative; >=1000.5=fill"
        assert page.input_value("#f-col_1_thousands") == "off"
        assert page.input_value("#f-col_2_true") == "paid"
        assert page.input_value("#f-chart_y") == "amount, share"
        assert page.input_value("#f-locale") == "de_CH"
        page.click("#save")
        page.wait_for_url("**?done=saved")
    # without script: the task's rows and three empty ones, and no button that needs it
    context = browser.new_context(
        storage_state=login_cookies(browser, site, "editor-user"), java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{site.url}/tasks/{task_id}/edit")
        assert page.locator("fieldset.column-row").count() == len(RICH_COLUMNS) + 3
        assert not page.locator("#add-column").is_visible()
    finally:
        context.close()
    after = site.space.task("Every knob")
    assert after.pop("updated_at", None) is not None
    before.pop("updated_at", None)
    assert after == before
