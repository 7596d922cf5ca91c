"""The pages' security on the real daemon: every form that changes something refuses a
post without the session's CSRF token (and nothing changes); a task name, a description
and a query string full of markup are shown as text on every page, never run: a real
Chromium watches for a dialog, a page error or a CSP refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from src.services.auth.roles import Role
from tests.fixtures.http import send
from tests.services.web.test_web import (
    PASSWORD,
    SALES_QUERY,
    Site,
    as_user,
    start_site,
)

XSS = "<script>alert('name')</script><img src=x onerror=alert('img')>\"'&"
QUERY_XSS = "<svg onload=alert('query')>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from start_site(tmp_path_factory.mktemp("web-security"))


def _session(site: Site, user: str) -> tuple[str, str]:
    """A login session of ``user`` made over the API: its cookie and CSRF token."""
    body = f'{{"name": "{user}", "password": "{PASSWORD}"}}'.encode()
    reply = send(
        site.url,
        "POST",
        "/api/session",
        token=None,
        headers={"Content-Type": "application/json"},
        body=body,
    )
    assert reply.status == 201, reply.body
    cookie = reply.headers["Set-Cookie"].split(";", 1)[0]
    return cookie, str(reply.json["csrf_token"])


def test_every_form_of_the_pages_refuses_a_post_without_the_csrf_token(site: Site) -> None:
    task_id = site.space.add("Guarded", "--query", SALES_QUERY, "--cron", "0 9 * * *")
    site.daemon.wait_for("Guarded")
    cookie, csrf = _session(site, "admin-user")
    forms = [
        "/tasks/new",
        f"/tasks/{task_id}/edit",
        f"/tasks/{task_id}/run",
        f"/tasks/{task_id}/enable",
        f"/tasks/{task_id}/disable",
        f"/tasks/{task_id}/delete",
        "/scheduler/pause",
        "/scheduler/resume",
        "/connections/DATABASE_URL/test",
        "/logout",
    ]
    before = site.space.tasks_file.read_bytes()
    fields = "name=Forged&query=SELECT+1&schedule_kind=none&timezone=UTC&etag=*"
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    for path in forms:
        for token in ("", "&csrf_token=forged"):
            reply = send(
                site.url, "POST", path, token=None, headers=headers, body=(fields + token).encode()
            )
            assert reply.status == 403, (path, token, reply.status, reply.body[:200])
            assert "CSRF" in reply.text, path
    assert site.space.tasks_file.read_bytes() == before
    assert site.api("GET", "/api/scheduler").json["paused"] is False
    assert len(site.space.runs(task_id)) == 0
    # the session still works (the refused logout did not end it), and with the token
    # the same form goes through: the refusals above were for the token alone
    with_token = (fields + f"&csrf_token={csrf}").encode()
    reply = send(
        site.url, "POST", f"/tasks/{task_id}/disable", token=None, headers=headers, body=with_token
    )
    assert reply.status == 303, reply.body
    assert site.space.task("Guarded")["enabled"] is False


def _pages(site: Site, task_id: str, run_id: str) -> list[str]:
    q = quote(QUERY_XSS)
    return [
        "/",
        f"/tasks?q={q}",
        f"/tasks?q={quote('<script')}",
        f"/tasks/{task_id}",
        f"/tasks/{task_id}/edit",
        f"/tasks/{task_id}/delete",
        f"/runs?task={quote(XSS)}",
        f"/runs?task={task_id}&since={q}",
        f"/runs/{run_id}",
        f"/runs/{q}",
        f"/audit?task={q}&action={q}",
        f"/audit?task={task_id}",
        "/connections",
        "/scheduler",
        f"/tasks/schedule-preview?kind=cron&value={q}&timezone={q}",
        f"/tasks/{q}",
    ]


def test_markup_in_a_task_name_and_in_a_query_is_text_on_every_page(
    site: Site, browser: Any
) -> None:
    task_id = site.space.add(
        XSS, "--query", SALES_QUERY, "--cron", "0 9 * * *", "--description", XSS
    )
    run = site.run(task_id)
    with as_user(browser, site, "admin-user") as (page, watch):
        for path in _pages(site, task_id, run["run_id"]):
            page.goto(site.url + path)
            assert page.locator("img, svg[onload], script:not([src])").count() == 0, path
            assert watch.dialogs == [], (path, watch.dialogs)
        # shown as the text it is, where a person expects it
        page.goto(f"{site.url}/tasks/{task_id}")
        assert page.inner_text("#task-name") == XSS
        assert page.inner_text(".description") == XSS
        page.goto(f"{site.url}/tasks?q={quote(QUERY_XSS)}")
        assert page.input_value("#q") == QUERY_XSS
        page.goto(f"{site.url}/runs?task={task_id}")
        assert XSS in page.inner_text("#run-table")
        # the form shows it back as a value, and a save with it re-renders it as text
        page.goto(f"{site.url}/tasks/{task_id}/edit")
        assert page.input_value("#f-name") == XSS
        page.fill("#f-schedule_value", QUERY_XSS)
        page.click("#save")
        assert QUERY_XSS in page.inner_text("#err-schedule_value")
        assert page.locator("svg[onload]").count() == 0
    # the login page's ?next= is never a way out or in
    reply = send(site.url, "GET", f"/login?next={quote(XSS)}", token=None)
    assert "<script>alert" not in reply.text and "<img" not in reply.text
    assert site.api("GET", "/api/tasks", Role.VIEWER).status == 200
