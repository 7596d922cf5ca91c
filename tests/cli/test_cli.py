"""manage_tasks.py as a user runs it: exact output and exit codes, for good and bad input.

The test of the package src/cli/ as a whole: src/cli/app.py (the commands),
src/cli/task_options.py and src/cli/interactive.py (what `add` and `edit` ask),
src/cli/render.py (tables and details) and src/cli/common.py (--tasks-file, --env-file).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner

from src.cli.app import cli
from src.services.task_store import TaskStore

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


class Cli:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tasks_file = folder / "tasks.json"
        sqlite3.connect(folder / "demo.db").close()  # add compiles the SQL against it
        self.env = {
            "DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
            "DB_SALES_URL": "postgresql+psycopg2://u:secret@127.0.0.1/sales",
            "DEFAULT_TIMEZONE": "",
            "TASKS_FILE": None,
            "ENV_FILE": None,
        }

    def __call__(self, *args: str, input: str | None = None):
        runner = CliRunner()
        return runner.invoke(
            cli,
            ["--tasks-file", str(self.tasks_file), "--env-file", str(self.folder / ".env"), *args],
            env=self.env,
            input=input,
            catch_exceptions=False,
        )

    def add(self, name: str = "Daily sales", *extra: str):
        schedule = () if {"--every", "--at", "--cron"} & set(extra) else ("--cron", "0 9 * * 1-5")
        result = self(
            "add",
            "--name",
            name,
            "--query",
            "SELECT 1",
            *schedule,
            "--timezone",
            "Europe/Berlin",
            "--to",
            "boss@example.com",
            *extra,
        )
        assert result.exit_code == 0, result.output
        return TaskStore(self.tasks_file).load().find(name)

    def document(self) -> dict:
        return json.loads(self.tasks_file.read_text())


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_add_prints_id_and_next_run(run):
    result = run(
        "add",
        "--name",
        "Daily sales",
        "--query",
        "SELECT 1",
        "--cron",
        "0 9 * * 1-5",
        "--timezone",
        "Europe/Berlin",
        "--to",
        "a@example.com,b@example.com",
        "--pdf",
    )
    task = TaskStore(run.tasks_file).load().tasks[0]
    assert result.exit_code == 0
    assert result.output == (
        f"Created tasks file {run.tasks_file}\n"
        f"Added task 'Daily sales' with id {task.id}\n"
        "Next run: 2026-11-24 09:00 CET (Europe/Berlin)\n"
    )
    saved = run.document()["tasks"][0]
    assert saved["email"]["to"] == ["a@example.com", "b@example.com"]
    assert saved["exports"] == {"xlsx": True, "pdf": True}
    assert saved["schedule"] == {"cron": "0 9 * * 1-5"}
    assert saved["created_at"] == "2026-11-23T10:00:00Z"
    assert len(saved["id"]) == 36


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cron", "0 9 * *"],
            "Error: schedule.cron: cron expression '0 9 * *' has 4 fields; "
            "expected 5: minute hour day-of-month month day-of-week (e.g. '0 9 * * 1-5' for 09:00 "
            "on weekdays)\n",
        ),
        (
            ["--cron", "0 9 * * *", "--timezone", "Europe/Berln"],
            "Error: timezone: 'Europe/Berln' is not an IANA zone; did you mean 'Europe/Berlin'?\n",
        ),
        (
            ["--cron", "0 9 * * *", "--to", "bob@"],
            "Error: email.to[0]: 'bob@' is not a valid email address: There must be something "
            "after the @-sign.\n",
        ),
        (
            ["--cron", "0 9 * * *", "--connection", "crm"],
            "Error: connection 'crm': DB_CRM_URL is not set in .env or the environment; add a line "
            "such as DB_CRM_URL=postgresql+psycopg2://user:password@host:5432/dbname\n",
        ),
        (
            ["--cron", "0 9 * * *", "--connection", "postgresql://u:pw@db/sales"],
            "Error: connection: a URL with a password does not belong in tasks.json; put it in "
            ".env as DB_<NAME>_URL=<url> and give the name instead (e.g. --connection sales for "
            "DB_SALES_URL)\n",
        ),
        (
            ["--every", "15x"],
            "Error: schedule.interval: interval '15x' is not understood; use a duration such as "
            "'15m', '6h', '1d', '1h30m' or an object like {\"hours\": 6}\n",
        ),
        (
            ["--cron", "0 9 * * *", "--subject", "Report\nBcc: evil@example.com"],
            "Error: email.subject: 'Report\\nBcc: evil@example.com' contains a line feed (LF); a "
            "header must be a single line of text\n",
        ),
        (
            ["--cron", "0 9 * * *", "--subject", "{tsk_name}"],
            "Error: email.subject: unknown placeholder {tsk_name} in '{tsk_name}'; known: "
            "{run_date}, {run_time}, {today}, {yesterday}, {start_of_month}, {task_name}, "
            "{row_count}, {duration}, {run_id}\n",
        ),
    ],
)
def test_add_refuses_bad_input_with_exact_message(run, args, message):
    result = run("add", "--name", "X", "--query", "SELECT 1", *args)
    assert (result.exit_code, result.output) == (1, message)
    assert not run.tasks_file.exists()


def test_add_empty_query(run):
    result = run("add", "--name", "X", "--query", "  ", "--cron", "0 9 * * *")
    assert (result.exit_code, result.output) == (
        1,
        "Error: query: the query is empty; give the SQL text (or query_file)\n",
    )


def test_add_several_problems_are_listed_together(run):
    result = run("add", "--name", "X", "--query", "", "--cron", "0 9 * * *", "--to", "nope")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: the task is not valid:",
        "query: the query is empty; give the SQL text (or query_file)",
        "email.to[0]: 'nope' is not a valid email address: An email address must have an @-sign.",
    ]


def test_add_duplicate_name_any_case(run):
    run.add("Daily sales")
    before = run.tasks_file.read_bytes()
    result = run("add", "--name", "DAILY SALES", "--query", "SELECT 1", "--every", "1h")
    assert result.exit_code == 1
    assert result.output.startswith("Error: a task named 'Daily sales' already exists (id ")
    assert result.output.endswith("task names are unique regardless of case: pick another name\n")
    assert run.tasks_file.read_bytes() == before


def test_add_usage_errors_exit_2(run):
    result = run("add", "--name", "X", "--query", "SELECT 1")
    assert (result.exit_code, result.output.splitlines()[-1]) == (
        2,
        "Error: give a schedule: --cron '0 9 * * *', --every 15m, --at ISO, or --no-schedule "
        "(runs only by webhook or `manage_tasks.py run`)",
    )
    result = run(
        "add", "--name", "X", "--query", "SELECT 1", "--cron", "* * * * *", "--every", "1h"
    )
    assert (result.exit_code, result.output.splitlines()[-1]) == (
        2,
        "Error: give one schedule: --cron, --every, --at or --no-schedule, not several",
    )
    result = run("add", "--query", "SELECT 1", "--every", "1h")
    assert result.exit_code == 2


def test_add_interactive_asks_and_re_asks_bad_answers(run):
    with sqlite3.connect(run.folder / "demo.db") as conn:
        conn.execute("CREATE TABLE stock (item TEXT)")
    answers = (
        "\n".join(
            [
                "Weekly stock",  # name
                "",  # description
                "",  # connection: default DATABASE_URL
                "SELECT * FROM stock",  # query
                "Europe/Berln",  # timezone: refused, asked again
                "Europe/Berlin",
                "cron",
                "0 9 * *",  # refused, asked again
                "0 8 * * mon",
                "ops@example.com, bad@",  # refused, asked again
                "ops@example.com",
                "",  # subject: default
                "y",
                "n",
                "y",  # xlsx, pdf, csv
            ]
        )
        + "\n"
    )
    result = run("add", "--interactive", input=answers)
    assert result.exit_code == 0, result.output
    assert (
        "Error: 'Europe/Berln' is not an IANA zone; did you mean 'Europe/Berlin'?" in result.output
    )
    assert "cron expression '0 9 * *' has 4 fields" in result.output
    task = TaskStore(run.tasks_file).load().find("Weekly stock")
    assert task.schedule.to_json() == {"cron": "0 8 * * mon"}
    assert task.email.to == ("ops@example.com",)
    assert task.enabled_exports == ["xlsx", "csv"]
    assert result.output.endswith("Next run: 2026-11-30 08:00 CET (Europe/Berlin)\n")


def test_list_table_and_json(run):
    first = run.add("Daily sales")
    second = run.add("Hourly check", "--every", "1h", "--disabled")
    result = run("list")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "ID        NAME          SCHEDULE                                       ZONE           "
        "ENABLED  NEXT RUN              LAST STATUS",
        f"{first.id[:8]}  Daily sales   At 09:00, Monday through Friday (0 9 * * 1-5)  "
        "Europe/Berlin  yes      2026-11-24 09:00 CET  -",
        f"{second.id[:8]}  Hourly check  every hour                                     "
        "Europe/Berlin  no       -                     -",
    ]
    data = json.loads(run("list", "--json").output)
    assert [t["name"] for t in data] == ["Daily sales", "Hourly check"]
    assert data[0]["next_run"] == "2026-11-24T08:00:00Z"
    assert data[1]["next_run"] is None


def test_list_empty(run):
    run.tasks_file.write_text('{"version": 1, "tasks": []}')
    result = run("list")
    assert result.output == f"No tasks in {run.tasks_file}. Add one with `manage_tasks.py add`.\n"


MISSING = "run from the project folder or give --tasks-file / TASKS_FILE"


def test_from_the_wrong_folder_every_reader_names_the_missing_tasks_file(tmp_path, monkeypatch):
    """The default ./tasks.json, from a folder without one: said, never read as "no tasks"."""
    monkeypatch.chdir(tmp_path)
    env = {"TASKS_FILE": None, "ENV_FILE": None}
    missing = f"tasks file {tmp_path}/tasks.json does not exist; {MISSING}"

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    listed = invoke("list")
    assert (listed.exit_code, listed.output) == (0, f"No tasks: {missing}.\n")
    as_json = invoke("list", "--json")
    assert (as_json.exit_code, as_json.stdout, as_json.stderr) == (
        0,
        "[]\n",
        f"No tasks: {missing}.\n",
    )
    for args in (
        ["validate"],
        ["show", "Daily sales"],
        ["next"],
        ["history"],
        ["history", "Daily sales"],
        ["run", "Daily sales"],
        ["edit", "Daily sales", "--cron", "0 7 * * *"],
        ["disable", "Daily sales"],
        ["delete", "Daily sales", "--yes"],
    ):
        result = invoke(*args)
        assert (result.exit_code, result.output) == (1, f"Error: {missing}\n"), args
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created


def test_add_into_a_new_file_says_it_creates_it(run):
    result = run("add", "--name", "T", "--query", "SELECT 1", "--every", "1h")
    assert result.output.splitlines()[0] == f"Created tasks file {run.tasks_file}"
    again = run("add", "--name", "U", "--query", "SELECT 1", "--every", "1h")
    assert "Created" not in again.output


def test_show_lists_next_five_fire_times_in_task_zone(run):
    task = run.add("Daily sales")
    result = run("show", task.id[:6])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"ID:           {task.id}"
    assert "Schedule:     At 09:00, Monday through Friday (0 9 * * 1-5)" in lines
    assert lines[-6:] == [
        "Next 5 runs:",
        "  2026-11-24 09:00 CET",
        "  2026-11-25 09:00 CET",
        "  2026-11-26 09:00 CET",
        "  2026-11-27 09:00 CET",
        "  2026-11-30 09:00 CET",
    ]
    data = json.loads(run("show", "daily SALES", "--json").output)
    assert data["id"] == task.id
    assert data["upcoming"][0] == "2026-11-24T08:00:00Z"


def test_edit_changes_only_given_fields(run):
    task = run.add("Daily sales")
    result = run("edit", "Daily sales", "--cron", "30 7 * * *", "--cc", "cc@example.com")
    assert result.exit_code == 0
    assert result.output == (
        f"Updated task 'Daily sales' ({task.id})\nNext run: 2026-11-24 07:30 CET (Europe/Berlin)\n"
    )
    saved = run.document()["tasks"][0]
    assert saved["schedule"] == {"cron": "30 7 * * *"}
    assert saved["email"]["to"] == ["boss@example.com"]
    assert saved["email"]["cc"] == ["cc@example.com"]
    assert saved["query"] == "SELECT 1"


def test_edit_bad_value_leaves_file_untouched(run):
    run.add("Daily sales")
    before = run.tasks_file.read_bytes()
    result = run("edit", "Daily sales", "--timezone", "Nowhere/Land")
    assert result.exit_code == 1
    assert result.output == (
        "Error: timezone: 'Nowhere/Land' is not an IANA zone; use a name such as 'Europe/Berlin'\n"
    )
    assert run.tasks_file.read_bytes() == before


def test_edit_without_options_is_a_usage_error(run):
    run.add("Daily sales")
    result = run("edit", "Daily sales")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: nothing to change; give at least one option (see --help)\n"
    )


def test_enable_disable(run):
    task = run.add("Daily sales")
    result = run("disable", "Daily sales")
    assert result.output == (
        f"Disabled task 'Daily sales' ({task.id})\nNext run: none (the task is disabled)\n"
    )
    assert run.document()["tasks"][0]["enabled"] is False
    result = run("enable", task.id)
    assert result.output == (
        f"Enabled task 'Daily sales' ({task.id})\nNext run: 2026-11-24 09:00 CET (Europe/Berlin)\n"
    )
    assert run.document()["tasks"][0]["enabled"] is True


def test_delete_asks_unless_yes(run):
    task = run.add("Daily sales")
    result = run("delete", "Daily sales", input="n\n")
    assert result.exit_code == 1
    assert result.output == f"Delete task 'Daily sales' ({task.id})? [y/N]: n\nAborted!\n"
    assert len(run.document()["tasks"]) == 1
    result = run("delete", "Daily sales", "--yes")
    assert (result.exit_code, result.output) == (0, f"Deleted task 'Daily sales' ({task.id})\n")
    assert run.document()["tasks"] == []


def test_unknown_task(run):
    run.add("Daily sales")
    result = run("show", "Daily sale")
    assert (result.exit_code, result.output) == (
        1,
        "Error: no task 'Daily sale' (by id, id prefix or name). Did you mean 'Daily sales'? "
        "See `manage_tasks.py list`.\n",
    )
    result = run("delete", "zz", "--yes")
    assert result.output == (
        "Error: no task 'zz' (by id, id prefix or name). An id prefix needs at least 4 "
        "characters. See `manage_tasks.py list`.\n"
    )


def test_ambiguous_prefix_lists_candidates(run):
    document = {
        "version": 1,
        "tasks": [
            {"id": "abcd1111", "name": "One", "query": "SELECT 1", "schedule": {"cron": "@daily"}},
            {"id": "abcd2222", "name": "Two", "query": "SELECT 1", "schedule": {"cron": "@daily"}},
        ],
    }
    run.tasks_file.write_text(json.dumps(document))
    result = run("show", "abcd")
    assert (result.exit_code, result.output) == (
        1,
        "Error: 'abcd' matches 2 tasks; give more of the id:\n  abcd1111  One\n  abcd2222  Two\n",
    )
    assert run("show", "abcd2").output.startswith("ID:           abcd2222")


def test_corrupt_file_error_and_no_write(run):
    run.tasks_file.write_text('{"version": 1, "tasks": [}')
    for args in (["list"], ["add", "--name", "X", "--query", "SELECT 1", "--every", "1h"]):
        result = run(*args)
        assert (result.exit_code, result.output) == (
            1,
            f"Error: {run.tasks_file}: line 1 column 26: Expecting value. Fix the JSON by hand "
            "(the file was not changed), then run `manage_tasks.py validate`.\n",
        )
    assert run.tasks_file.read_text() == '{"version": 1, "tasks": [}'


def test_next_across_tasks_and_dst(run):
    for name, zone in (("NY", "America/New_York"), ("Berlin", "Europe/Berlin")):
        result = run(
            "add", "--name", name, "--query", "SELECT 1", "--cron", "30 2 * * *", "--timezone", zone
        )
        assert result.exit_code == 0
    result = run("next", "-n", "4", "--task", "NY", "--from", "2026-03-07T00:00")
    assert result.output.splitlines() == [
        "WHEN (TASK ZONE)      UTC                   TASK",
        "2026-03-07 02:30 EST  2026-03-07 07:30 UTC  NY",
        "2026-03-08 03:00 EDT  2026-03-08 07:00 UTC  NY",
        "2026-03-09 02:30 EDT  2026-03-09 06:30 UTC  NY",
        "2026-03-10 02:30 EDT  2026-03-10 06:30 UTC  NY",
    ]
    result = run("next", "-n", "3", "--task", "Berlin", "--from", "2026-10-24T12:00")
    assert result.output.splitlines()[1:] == [
        "2026-10-25 02:30 CEST  2026-10-25 00:30 UTC  Berlin",
        "2026-10-26 02:30 CET   2026-10-26 01:30 UTC  Berlin",
        "2026-10-27 02:30 CET   2026-10-27 01:30 UTC  Berlin",
    ]
    result = run("next", "-n", "3", "--from", "2026-03-28T12:00")
    assert result.output.splitlines()[1:] == [
        "2026-03-29 03:00 CEST  2026-03-29 01:00 UTC  Berlin",
        "2026-03-29 02:30 EDT   2026-03-29 06:30 UTC  NY",
        "2026-03-30 02:30 CEST  2026-03-30 00:30 UTC  Berlin",
    ]


def test_validate_reports_legacy_password_url_with_env_line(run):
    legacy = [
        {
            "task_id": "abc-123",
            "name": "Old report",
            "query": "SELECT 1",
            "database_url": "postgresql://report:s3cret@db.example.com/salesdb",
            "schedule_type": "cron",
            "schedule_config": {"hour": 9, "minute": 0},
            "email_recipients": ["m@example.com"],
            "is_active": True,
        }
    ]
    run.tasks_file.write_text(json.dumps(legacy))
    result = run("validate")
    assert result.exit_code == 0
    assert result.stderr == (
        "Warning: task 'Old report': connection is a URL with a password, kept in tasks.json "
        "in clear. Add this line to .env:\n"
        "    DB_SALESDB_URL=postgresql://report:s3cret@db.example.com/salesdb\n"
        "  then run: manage_tasks.py edit abc-123 --connection salesdb\n"
    )
    assert result.stdout == (
        f"{run.tasks_file}: 1 task(s) valid (earlier tool's format; converted on the next "
        "change), 1 warning(s)\n"
    )


def test_validate_fails_on_invalid_file(run):
    run.tasks_file.write_text(json.dumps({"version": 1, "tasks": [{"name": "X"}]}))
    result = run("validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {run.tasks_file}: 3 problem(s); the file was not changed:",
        "  task #1 'X': id: None is not a task id (a non-empty string)",
        "  task #1 'X': query: the query is empty; give the SQL text (or query_file)",
        '  task #1 \'X\': schedule: missing; give {"cron": "0 9 * * 1-5"}, {"interval": "15m"}, '
        '{"once": ...}, or null for a task run only by webhook or `manage_tasks.py run`',
    ]


def test_every_command_has_help_with_examples(run):
    for command in cli.commands:
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, command


def test_tasks_file_from_environment(tmp_path):
    runner = CliRunner()
    path = tmp_path / "elsewhere.json"
    sqlite3.connect(tmp_path / "x.db").close()
    env = {
        "TASKS_FILE": str(path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "ENV_FILE": None,
    }
    result = runner.invoke(
        cli, ["add", "--name", "T", "--query", "SELECT 1", "--every", "1h"], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["tasks"][0]["name"] == "T"


def test_interval_counts_from_creation_minute_and_add_agrees_with_list(run):
    with time_machine.travel(datetime(2026, 11, 23, 10, 7, 42, tzinfo=UTC), tick=False):
        result = run("add", "--name", "Hourly", "--query", "SELECT 1", "--every", "1h")
        assert result.output.splitlines()[2] == "Next run: 2026-11-23 11:07 UTC (UTC)"
        listed = json.loads(run("list", "--json").output)[0]
    assert listed["next_run"] == "2026-11-23T11:07:00Z"
    assert listed["created_at"] == "2026-11-23T10:07:42Z"


def test_catch_up_and_webhook_fields(run):
    result = run(
        "add",
        "--name",
        "C",
        "--query",
        "SELECT 1",
        "--every",
        "1h",
        "--catch-up",
        "all",
        "--catch-up-window",
        "6h",
        "--no-webhook",
    )
    assert result.exit_code == 0, result.output
    saved = run.document()["tasks"][0]
    assert (saved["catch_up"], saved["catch_up_window"], saved["webhook"]) == ("all", "6h", False)
    assert "Catch-up:     all, window 6h; webhook runs refused" in run("show", "C").output
    result = run("edit", "C", "--catch-up-window", "6x")
    assert (result.exit_code, result.output) == (
        1,
        "Error: catch_up_window: interval '6x' is not understood; use a duration such as '15m', "
        "'6h', '1d', '1h30m' or an object like {\"hours\": 6}\n",
    )
    document = run.document()
    document["tasks"][0]["catch_up"] = "newest"
    run.tasks_file.write_text(json.dumps(document))
    result = run("validate")
    assert result.exit_code == 1
    assert "task #1 'C': catch_up: 'newest' is not one of skip, latest, all" in result.output


def test_edit_with_only_a_negative_flag_changes_it(run):
    # --no-pdf, --read-write and --no-webhook give False; they once counted as "no option"
    run.add("Daily sales", "--pdf")
    for flag in ("--no-pdf", "--read-write", "--no-webhook"):
        result = run("edit", "Daily sales", flag)
        assert result.exit_code == 0, result.output
    saved = run.document()["tasks"][0]
    assert (saved["exports"]["pdf"], saved["read_only"], saved["webhook"]) == (False, False, False)
