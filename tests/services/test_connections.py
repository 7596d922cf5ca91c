"""Connections (src/services/connections.py): a task's connection name resolved to a URL from
.env, and URLs shown without their passwords."""

from __future__ import annotations

import pytest

from src.core.errors import ConfigError
from src.services.connections import mask_url, resolve_connection
from tests.servers import OdbcTarget

# --- connection settings (.env / environment) ------------------------------------------


def test_unknown_connection_name_says_which_variable_to_add() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_connection("sales", {"DATABASE_URL": "sqlite:///x.db"})
    assert str(caught.value) == (
        "connection 'sales': DB_SALES_URL is not set in .env or the environment; "
        "add a line such as DB_SALES_URL=postgresql+psycopg2://user:password@host:5432/dbname"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DATABASE_URL", "postgresql+psycopg2://u:p@h/default"),
        ("DB_SALES_URL", "mysql+pymysql://u:p@h/sales"),
        ("sales", "mysql+pymysql://u:p@h/sales"),
        ("sqlite:///demo.db", "sqlite:///demo.db"),
    ],
)
def test_connection_names_resolve(name: str, expected: str) -> None:
    env = {
        "DATABASE_URL": "postgresql+psycopg2://u:p@h/default",
        "DB_SALES_URL": "mysql+pymysql://u:p@h/sales",
    }
    assert resolve_connection(name, env) == expected


def test_literal_url_with_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_connection("postgresql://bob:S3cretPw@db/x", {})
    assert "S3cretPw" not in str(caught.value)
    assert "DB_<NAME>_URL" in str(caught.value)


def test_mask_url_hides_passwords_including_odbc_ones() -> None:
    assert mask_url("postgresql+psycopg2://bob:S3cretPw@db:5432/x") == (
        "postgresql+psycopg2://bob:***@db:5432/x"
    )
    odbc = OdbcTarget("MariaDB Unicode", "h", 3306, "bob", "S3cretPw", "x")
    masked = mask_url(odbc.sqlalchemy_url("mysql"))
    assert "S3cretPw" not in masked and "bob" in masked
