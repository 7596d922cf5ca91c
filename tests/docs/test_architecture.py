"""docs/architecture.md stays true: every path and symbol its "Where is ...?" table names
exists, and the layers point one way (core imports nothing from services or click).
And the tests the docs cite exist: every ``tests/...py`` and ``tests/...py::test_name`` in
docs/*.md and README.md (``::test_name`` alone means the file cited before it on the line)."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest

from tests.servers import ROOT

DOC = ROOT / "docs" / "architecture.md"


def _where_is_references() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Where is ...?", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    return [ref for row in rows for ref in re.findall(r"`([^`]+)`", row.split("|")[2])]


def _defines(tree: ast.Module, dotted: str) -> bool:
    """Whether ``dotted`` (``name`` or ``Class.method``) is defined at the module's top."""
    scope: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        found = None
        for node in scope:
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            if part in names:
                found = node
                break
        if found is None:
            return False
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return True


REFERENCES = _where_is_references()


def test_the_table_names_something() -> None:
    assert len(REFERENCES) >= 20


@pytest.mark.parametrize("reference", REFERENCES)
def test_every_path_and_symbol_in_where_is_exists(reference: str) -> None:
    path_text, _, symbol = reference.partition("::")
    path = ROOT / path_text
    assert path.exists(), f"docs/architecture.md names {path_text}, which does not exist"
    if symbol:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert _defines(tree, symbol), f"{path_text} defines no {symbol}"


def test_the_checker_notices_a_missing_symbol() -> None:
    tree = ast.parse("class A:\n    def b(self): ...\nC = 1\n")
    assert _defines(tree, "A.b") and _defines(tree, "C")
    assert not _defines(tree, "A.c") and not _defines(tree, "D")


@pytest.mark.parametrize("path", sorted((ROOT / "src" / "core").rglob("*.py")), ids=str)
def test_core_imports_no_services_and_no_click(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    bad = [name for name in imported if name.startswith(("src.services", "src.cli", "click"))]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


#: Past this, a module says at its top why it is not split (shared/STYLE.md: ~400 lines).
LONG_MODULE_LINES = 410
REASON = "Longer than ~400 lines on purpose:"


@pytest.mark.parametrize("path", sorted((ROOT / "src").rglob("*.py")), ids=str)
def test_a_long_module_says_why_at_its_top(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count("\n") <= LONG_MODULE_LINES:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert REASON in docstring, (
        f"{path.relative_to(ROOT)} has {text.count(chr(10))} lines: split it, or say why not "
        f"at its top ({REASON} ...)"
    )


#: ``tests/x/test_y.py``, ``tests/x/test_y.py::test_z`` and, after one of them on a line,
#: ``::test_z`` alone. A name may hold ``*`` (``test_*_timeout_*``): it must match a test.
_TEST_REFERENCE = re.compile(r"(tests/[\w/]+\.py)?::(test_[\w*]+)|(tests/[\w/]+\.py)")


def cited_tests_in(text: str) -> list[tuple[str, str]]:
    """(file, test name or "") for each test the text cites, continuations resolved."""
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        current = ""
        for match in _TEST_REFERENCE.finditer(line):
            path, name, bare = match.groups()
            current = path or bare or current
            found.append((current, name or ""))
    return found


def _cited_tests() -> list[tuple[str, str, str]]:
    cited = []
    for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        for path, name in cited_tests_in(doc.read_text(encoding="utf-8")):
            cited.append((doc.relative_to(ROOT).as_posix(), path, name))
    return cited


def _reference_problem(doc: str, path_text: str, name: str) -> str | None:
    if not path_text:
        return f"{doc} cites ::{name} with no tests/ file before it on the line"
    path = ROOT / path_text
    if not path.is_file():
        return f"{doc} cites {path_text}, which does not exist"
    if name:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        if not fnmatch.filter(tests, name):
            return f"{doc} cites {path_text}::{name}, which defines no such test"
    return None


CITED = _cited_tests()


def test_the_docs_cite_tests() -> None:
    assert len(CITED) >= 40


@pytest.mark.parametrize(("doc", "path", "name"), CITED)
def test_every_test_the_docs_cite_exists(doc: str, path: str, name: str) -> None:
    assert _reference_problem(doc, path, name) is None


def test_the_reference_checker_notices_a_moved_file_and_a_renamed_test() -> None:
    line = "`tests/core/test_schedule.py::test_cron_forms`, `::test_gone`, `tests/test_old.py`"
    refs = cited_tests_in(line)
    assert refs == [
        ("tests/core/test_schedule.py", "test_cron_forms"),
        ("tests/core/test_schedule.py", "test_gone"),
        ("tests/test_old.py", ""),
    ]
    assert [_reference_problem("x.md", *ref) for ref in refs] == [
        None,
        "x.md cites tests/core/test_schedule.py::test_gone, which defines no such test",
        "x.md cites tests/test_old.py, which does not exist",
    ]
