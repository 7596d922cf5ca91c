"""A task's SQL text turned into a statement with bound values (src/services/query/sqltext.py)."""

from __future__ import annotations

from datetime import date

import pytest

from src.core.errors import QueryError
from src.services.query.sqltext import prepare_sql, returns_rows

# --- SQL text: placeholders become binds, literals are left alone ------------------------


def test_placeholders_become_binds_outside_literals_only() -> None:
    sql = "SELECT {today}, :yesterday, '{today} a :b', \"{x}\" -- {nope}\n/* :nope */"
    prepared = prepare_sql(sql, {"today": date(2024, 1, 2), "yesterday": date(2024, 1, 1)})
    assert prepared.text.startswith("SELECT :today, :yesterday, '{today} a \\:b', \"{x}\"")
    assert prepared.params == {"today": date(2024, 1, 2), "yesterday": date(2024, 1, 1)}


def test_unknown_placeholder_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(QueryError) as caught:
        prepare_sql("SELECT * FROM t WHERE d = {tomorrow}", {"today": date(2024, 1, 2)})
    assert caught.value.permanent is True
    message = str(caught.value)
    assert "{tomorrow}" in message
    for known in ("{run_date}", "{today}", "{yesterday}", "{start_of_month}"):
        assert known in message


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", True),
        ("  -- note\n/* x */ (select 1)", True),
        ("WITH a AS (SELECT 1) SELECT * FROM a", True),
        ("INSERT INTO t VALUES (1)", False),
        ("update t set a = 1", False),
    ],
)
def test_returns_rows_reads_the_first_keyword(sql: str, expected: bool) -> None:
    assert returns_rows(sql) is expected
