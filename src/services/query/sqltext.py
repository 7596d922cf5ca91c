"""Turn a task's SQL text into a statement with bound values.

Two spellings name a value, and both are sent to the driver as bound parameters,
never pasted into the SQL text:

* ``:today`` - SQLAlchemy ``text()`` bind syntax;
* ``{today}`` - rewritten here to ``:today`` (``(:today)`` before a ``::cast``).

The rule: placeholders and binds are recognised only *outside* string literals
(``'...'``, ``$tag$...$tag$``), quoted identifiers (``"..."``, ```...```) and comments
(``-- ...``, ``/* ... */``). ``'{today}'`` stays the five characters ``{today}``, and a
colon inside a literal (``'10:30'``, ``'a :b'``) is never taken for a bind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.compiler import BIND_PARAMS

from src.core.errors import QueryError
from src.core.runvars import RUN_VARIABLES

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_]\w*)?\$")
_FIRST_WORD = re.compile(r"[A-Za-z]+")
# Statements whose result is rows, so they can run on a server-side cursor.
# (PostgreSQL's DECLARE ... CURSOR accepts only these.)
_ROW_STATEMENTS = frozenset({"select", "with", "values", "table"})


@dataclass(frozen=True)
class PreparedSql:
    text: str
    params: dict[str, Any]
    returns_rows_hint: bool


def _bind_marker(match: re.Match[str]) -> str:
    # "{today}::date" -> "(:today)::date": SQLAlchemy does not see ":today::" as a bind.
    after = match.string[match.end() : match.end() + 1]
    return f"(:{match.group(1)})" if after == ":" else f":{match.group(1)}"


def split_sql(sql: str, *, backslash_escapes: bool = False) -> Iterator[tuple[bool, str]]:
    """Yield ``(is_code, piece)``: code, or a literal / quoted name / comment kept whole.

    ``backslash_escapes``: ``\\'`` does not end a string (MySQL / MariaDB default).
    """
    i = 0
    start = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        end = -1
        if ch in "'\"`":
            j = i + 1
            while j < n:
                if backslash_escapes and sql[j] == "\\" and ch == "'":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote = escaped quote
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            end = n if nl < 0 else nl
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end = n if close < 0 else close + 2
        elif ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag:
                close = sql.find(tag.group(0), tag.end())
                end = n if close < 0 else close + len(tag.group(0))
        if end < 0:
            i += 1
            continue
        if start < i:
            yield True, sql[start:i]
        yield False, sql[i:end]
        start = i = end
    if start < n:
        yield True, sql[start:]


def returns_rows(sql: str) -> bool:
    """Whether the statement's first keyword (after comments and parentheses) reads rows."""
    for is_code, piece in split_sql(sql):
        if not is_code:
            if piece.startswith(("--", "/*")):
                continue
            return False
        word = _FIRST_WORD.search(piece)
        if word:
            return word.group(0).lower() in _ROW_STATEMENTS
        if piece.strip(" \t\r\n("):
            return False
    return False


# First keywords of statements that change data or the schema. A WITH that holds one of
# the first four changes data too (PostgreSQL's data-modifying CTEs).
_WRITE_STATEMENTS = frozenset(
    {
        "insert",
        "update",
        "delete",
        "merge",
        "replace",
        "upsert",
        "create",
        "drop",
        "alter",
        "truncate",
        "rename",
        "grant",
        "revoke",
        "call",
        "exec",
        "execute",
        "do",
        "copy",
        "load",
    }
)
_WRITE_IN_WITH = frozenset({"insert", "update", "delete", "merge"})


def code_words(sql: str) -> list[str]:
    """The words of the SQL outside literals, quoted names and comments, in lower case."""
    return [
        word.lower()
        for is_code, piece in split_sql(sql)
        if is_code
        for word in _FIRST_WORD.findall(piece)
    ]


def writing_keyword(sql: str) -> str | None:
    """The keyword (upper case) by which the statement changes data, or None if it reads."""
    words = code_words(sql)
    if not words:
        return None
    if words[0] in _WRITE_STATEMENTS:
        return words[0].upper()
    if words[0] == "with":
        found = next((w for w in words[1:] if w in _WRITE_IN_WITH), None)
        return found.upper() if found else None
    return None


def bind_names(sql: str, *, backslash_escapes: bool = False) -> list[str]:
    """The names the statement binds (``:name`` and ``{name}``), in order, once each."""
    used: list[str] = []
    for is_code, piece in split_sql(sql, backslash_escapes=backslash_escapes):
        if is_code:
            piece = _PLACEHOLDER.sub(_bind_marker, piece)
            used.extend(m.group(1) for m in BIND_PARAMS.finditer(piece))
    return list(dict.fromkeys(used))


def missing_binds_message(missing: list[str], values: Mapping[str, Any]) -> str:
    params = sorted(set(values) - set(RUN_VARIABLES))
    known = ", ".join(f"{{{v}}}" for v in RUN_VARIABLES)
    given = f"; task params: {', '.join(params)}" if params else "; the task has no params"
    names = ", ".join(f"{{{name}}}" for name in missing)
    return (
        f"the SQL uses {names} but no run variable or parameter has that name; "
        f"run variables: {known}{given}. Write one of those, as {{name}} or :name, "
        "or give the value with --param NAME=VALUE (tasks.json: params)"
    )


def prepare_sql(
    sql: str,
    values: Mapping[str, Any],
    *,
    backslash_escapes: bool = False,
) -> PreparedSql:
    """Rewrite ``{name}`` to ``:name`` and pick the bound values the statement uses.

    ``values`` holds the run variables and the task's params (params win). A name
    the statement uses that ``values`` lacks is a permanent QueryError naming it
    and listing the known names.
    """
    out: list[str] = []
    used: list[str] = []
    for is_code, piece in split_sql(sql, backslash_escapes=backslash_escapes):
        if is_code:
            piece = _PLACEHOLDER.sub(_bind_marker, piece)
            used.extend(m.group(1) for m in BIND_PARAMS.finditer(piece))
        else:
            # Escape would-be binds inside literals; SQLAlchemy un-escapes "\:".
            piece = BIND_PARAMS.sub(lambda m: "\\" + m.group(0), piece)
        out.append(piece)
    missing = sorted({name for name in used if name not in values})
    if missing:
        raise QueryError(missing_binds_message(missing, values), permanent=True)
    return PreparedSql(
        text="".join(out),
        params={name: values[name] for name in dict.fromkeys(used)},
        returns_rows_hint=returns_rows(sql),
    )
