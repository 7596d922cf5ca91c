"""Every page, as a person meets it, on the real daemon with tasks that have run:

* accessibility: axe-core (tests/assets/axe-core/, from the npm registry, its version
  and licence noted there) finds no serious or critical violation on any page. axe is
  put into the page by the test, so these contexts bypass the CSP (the CSP itself is
  checked by test_web.py and test_web_security.py, whose pages log any refusal);
* the pictures docs/web.md shows (marker ``pictures``): ``make pictures``
  (``DOCS_PICTURES=1``) writes them into docs/images/, any other run into a temporary
  folder, and checks them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docs.test_report_pictures import png_size
from tests.servers import ROOT
from tests.services.web.test_web import SALES_QUERY, Site, as_user, start_site

AXE = ROOT / "tests" / "assets" / "axe-core" / "axe.min.js"
IMAGES = ROOT / "docs" / "images"
#: the pictures' width: a laptop's browser window
PICTURE_WIDTH = 1100


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A daemon with a few tasks that have run: some succeeded, one failed."""
    for found in start_site(tmp_path_factory.mktemp("web-pages")):
        space = found.space
        ids = {
            "Daily sales": space.add(
                "Daily sales",
                "--query",
                SALES_QUERY,
                "--cron",
                "0 7 * * 1-5",
                "--timezone",
                "Europe/Berlin",
                "--description",
                "Yesterday's orders by region, for the sales team",
                "--xlsx",
            ),
            "Stock check": space.add("Stock check", "--query", SALES_QUERY, "--every", "6h"),
            "Old ledger": space.add(
                "Old ledger", "--query", "SELECT * FROM ledger", "--no-check", "--cron", "0 6 * * *"
            ),
        }
        for name in ("Daily sales", "Stock check", "Daily sales", "Old ledger", "Daily sales"):
            found.run(ids[name])
        found.space.cli("disable", "Stock check")
        yield found


def _pages(site: Site) -> dict[str, str]:
    tasks = {t["name"]: t["id"] for t in site.space.document()["tasks"]}
    daily = tasks["Daily sales"]
    run_id = site.space.runs(daily)[-1].run_id
    return {
        "dashboard": "/",
        "tasks": "/tasks",
        "task": f"/tasks/{daily}",
        "new-task": "/tasks/new",
        "edit-task": f"/tasks/{daily}/edit",
        "delete-task": f"/tasks/{daily}/delete",
        "runs": "/runs",
        "run": f"/runs/{run_id}",
        "failed-runs": "/runs?status=failed",
        "connections": "/connections",
        "audit": "/audit",
        "scheduler": "/scheduler",
        "not-found": "/tasks/no-such-task",
    }


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -- "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_or_critical_violation_on_any_page(site: Site, browser: Any) -> None:
    problems: dict[str, list[str]] = {}
    with as_user(browser, site, "admin-user", bypass_csp=True) as (page, _):
        for label, path in _pages(site).items():
            page.goto(site.url + path)
            problems[label] = serious_violations(page)
        # the form showing its messages (one in a column row, one in a row the script
        # added), and the login page (logged out)
        page.goto(site.url + "/tasks/new")
        page.fill("#f-name", "x")
        page.fill("#f-schedule_value", "61 * * * *")
        page.fill("#f-col_0_name", "amount")
        page.select_option("#f-col_0_format", "currency")
        page.fill("#f-col_0_currency", "EURO")
        page.click("#add-column")
        page.fill("#f-col_3_label", "No name")
        page.select_option("#f-chart_type", "pie")
        page.click("#save")
        page.locator("#error-summary").wait_for()
        for beside in ("err-schedule_value", "err-col_0_currency", "err-col_3_name"):
            assert page.locator(f"#{beside}").is_visible(), beside
        problems["form-with-errors"] = serious_violations(page)
        page.context.clear_cookies()
        page.goto(site.url + "/login")
        problems["login"] = serious_violations(page)
    assert len(problems) == len(_pages(site)) + 2
    assert {label: found for label, found in problems.items() if found} == {}


def test_axe_is_there_and_finds_what_it_should(site: Site, browser: Any) -> None:
    """The check above can fail: a page with an unlabelled field and no contrast is caught."""
    with as_user(browser, site, "admin-user", bypass_csp=True) as (page, _):
        page.goto(site.url + "/tasks")
        page.evaluate(
            """() => {
                document.querySelector('label[for=q]').remove();
                document.querySelector('h1').style.color = '#f4f4f4';
            }"""
        )
        found = " ".join(serious_violations(page))
    assert "label (critical)" in found and "color-contrast (serious)" in found


PICTURES = {
    "web-dashboard.png": "/",
    "web-tasks.png": "/tasks",
    "web-task.png": "task",
    "web-runs.png": "/runs",
}


@pytest.mark.pictures
def test_the_pictures_of_docs_web_md(site: Site, browser: Any, tmp_path: Path) -> None:
    wanted = os.environ.get("DOCS_PICTURES") == "1"
    folder = IMAGES if wanted else tmp_path
    pages = _pages(site)
    with as_user(browser, site, "editor-user", width=PICTURE_WIDTH) as (page, _):
        for name, path in PICTURES.items():
            page.goto(site.url + pages.get(path, path))
            page.screenshot(path=str(folder / name), full_page=True)
        # the form telling what is wrong with a cron line, beside it
        page.goto(site.url + pages["edit-task"])
        page.fill("#f-schedule_value", "0 7 * * 1-8")
        page.locator("#preview-error").wait_for()
        page.click("#save")
        page.locator("#err-schedule_value").wait_for()
        page.locator("#f-schedule_value").scroll_into_view_if_needed()
        page.locator("fieldset:has(#f-schedule_value)").screenshot(
            path=str(folder / "web-form.png")
        )
    for name in (*PICTURES, "web-form.png"):
        width, height = png_size(folder / name)
        assert width >= 600 and height >= 200, (name, width, height)
