"""The connection-name grammar (src/core/connection_names.py), as the task model and the
connection service both apply it: one table of names, one set of messages."""

from __future__ import annotations

import pytest

from src.core.connection_names import NOT_A_NAME, PASSWORD_IN_URL, check_connection, env_var_for
from src.core.errors import ConfigError, TaskValidationErrors, ValidationError
from src.core.task import Task
from src.services.connections import resolve_connection

# name -> the variable it means (None: a URL, used as is)
ACCEPTED = [
    ("DATABASE_URL", "DATABASE_URL"),
    ("DB_SALES_URL", "DB_SALES_URL"),
    ("DB_EU_SALES_2_URL", "DB_EU_SALES_2_URL"),
    ("sales", "DB_SALES_URL"),
    ("Sales_2", "DB_SALES_2_URL"),
    ("  sales ", "DB_SALES_URL"),
    ("sqlite:///demo.db", None),
    ("postgresql+psycopg2://reporter@db:5432/shop", None),
]
# not a name: refused by both, with the same words
REFUSED = ["", "   ", "2sales", "sales-eu", "db url", "_x", "DB_SALES_URL;rm"]
WITH_PASSWORD = [
    "postgresql://bob:S3cret@db/x",
    "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BX%7D%3BPWD%3DS3cret",
]


def _task(connection: str) -> dict[str, object]:
    return {"id": "t1", "name": "T", "query": "SELECT 1", "schedule": {"cron": "0 9 * * *"},
            "connection": connection}  # fmt: skip


@pytest.mark.parametrize(("name", "variable"), ACCEPTED)
def test_accepted_names_and_the_variable_they_mean(name: str, variable: str | None) -> None:
    assert check_connection(name, allow_password=False) == name.strip()
    assert Task.from_dict(_task(name)).connection == name.strip()
    if variable is None:
        assert resolve_connection(name, {}) == name.strip()
    else:
        assert env_var_for(name) == variable
        assert resolve_connection(name, {variable: "sqlite:///x.db"}) == "sqlite:///x.db"


@pytest.mark.parametrize("name", REFUSED)
def test_refused_names_say_the_same_in_the_task_and_at_run_time(name: str) -> None:
    expected = f"connection: {name.strip()!r} {NOT_A_NAME}"
    with pytest.raises(TaskValidationErrors) as saved:
        Task.from_dict(_task(name))
    assert [str(e) for e in saved.value.errors] == [f"task 'T': {expected}"]
    with pytest.raises(ConfigError) as resolved:
        resolve_connection(name, {})
    assert str(resolved.value) == expected


@pytest.mark.parametrize("url", WITH_PASSWORD)
def test_url_with_password_is_loaded_but_refused_for_add_and_run(url: str) -> None:
    assert Task.from_dict(_task(url)).connection == url  # loaded; `validate` warns
    with pytest.raises(ValidationError) as added:
        check_connection(url, allow_password=False)
    assert added.value.message == PASSWORD_IN_URL
    with pytest.raises(ConfigError) as resolved:
        resolve_connection(url, {})
    assert str(resolved.value) == f"connection: {PASSWORD_IN_URL}"
    assert "S3cret" not in str(resolved.value)
