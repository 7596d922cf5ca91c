"""docs/architecture.md stays true: every path and symbol its "Where is ...?" table names
exists, and the layers point one way (core imports nothing from services or click)."""

from __future__ import annotations

import ast
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
