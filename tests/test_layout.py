"""The tests are laid out like the code (see tests/README.md), and stay so.

``tests/<dir>/test_<name>.py`` tests ``src/<dir>/<name>.py`` (or the package
``src/<dir>/<name>/``); ``test_<pkg>.py`` inside ``tests/<dir>/<pkg>/`` tests that package
as a whole, and covers the package's modules it names (``src/<dir>/<pkg>/<module>.py``);
``test_<name>_<aspect>.py`` is more of ``test_<name>.py`` that needs a setup of its own.
``tests/campaigns/`` and ``tests/docs/`` are not mirrored. At the top level,
``test_<helper>.py`` tests the shared helper ``tests/<helper>.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.servers import ROOT

#: Folders of tests/ that do not mirror src/: whole-product campaigns, doc checks, helpers.
NOT_MIRRORED = {"campaigns", "docs", "fixtures"}

#: Modules with no test module of their own, and why. Keep it short: a new module gets a test.
ALLOWED_WITHOUT_TEST: dict[str, str] = {
    "src/core/defaults.py": "constants only; each is asserted where it is used",
    "src/core/errors.py": "exception classes; every test that expects an error checks its words",
    "src/core/result.py": "data shapes only; every query and export test builds or reads them",
    "src/core/clock.py": "three one-line functions; every schedule and history test uses them",
    "src/core/templating.py": "tested through its users: tests/services/mail/test_message.py "
    "(bad templates refused) and tests/services/export/test_files.py (file names)",
    "src/services/demo.py": "built and run by tests/docs/test_readme.py and "
    "tests/cli/test_cli_run.py",
    "src/services/settings.py": "read by every run test; tests/docs/test_settings_documented.py "
    "checks each setting is documented",
    "src/services/task_checks.py": "`validate` warnings: tests/cli/test_cli.py::"
    "test_validate_reports_legacy_password_url_with_env_line",
    "src/services/export/xlsx_package.py": "the fixed parts of every .xlsx that "
    "tests/services/export/test_xlsx.py opens with openpyxl and LibreOffice",
    "src/services/scheduler/child.py": "needs the real daemon: tests/services/scheduler/"
    "test_daemon.py::test_timeout_kills_a_run_that_ignores_sigterm",
    "src/services/scheduler/instance.py": "needs two real daemons: tests/services/scheduler/"
    "test_daemon.py::test_second_daemon_is_refused",
    "src/services/scheduler/worker.py": "the child process of every run in tests/services/"
    "scheduler/test_daemon.py",
    "src/cli/context.py": "three accessors of the main group's context, used by every test "
    "of tests/cli/test_accounts.py, test_pause.py and test_audit.py",
    "src/services/cluster/migrations/versions/0001_cluster_schema.py": "a migration: "
    "tests/services/cluster/migrations/test_migrations.py takes it down and up again",
    "src/services/cluster/migrations/versions/0002_runs_and_audit.py": "a migration: "
    "tests/services/cluster/migrations/test_migrations.py takes it down and up again, and "
    "checks its fold of the lines a 0001 cluster holds",
    "src/services/scheduler/settings.py": "read by every daemon test; "
    "tests/docs/test_settings_documented.py checks each setting is documented",
}


def _modules(folder: Path) -> set[str]:
    """Names of the modules and packages directly in ``folder`` (no ``__init__``)."""
    names = {p.stem for p in folder.glob("*.py") if p.name != "__init__.py"}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    return names


def _names_a_tested_thing(stem: str, names: set[str]) -> bool:
    return any(stem == name or stem.startswith(f"{name}_") for name in names)


def layout_problems(
    src: Path, tests: Path, allowed: Mapping[str, str] = ALLOWED_WITHOUT_TEST
) -> list[str]:
    """Every way ``tests`` does not mirror ``src``, one line each (empty when it does)."""
    root = src.parent
    problems: list[str] = []
    for test in sorted(tests.rglob("test_*.py")):
        where = test.parent.relative_to(tests)
        shown = test.relative_to(root).as_posix()
        stem = test.stem.removeprefix("test_")
        if where.parts and where.parts[0] in NOT_MIRRORED:
            continue
        if not (test.parent / "__init__.py").exists():
            problems.append(f"{shown}: its folder has no __init__.py")
        if not where.parts:
            if stem != "layout" and not (tests / f"{stem}.py").exists():
                problems.append(f"{shown}: there is no helper tests/{stem}.py")
            continue
        source = src / where
        names = _modules(source) if source.is_dir() else set()
        if not _names_a_tested_thing(stem, names | {source.name}):
            problems.append(
                f"{shown}: there is no src/{where.as_posix()}/{stem}.py "
                f"nor package src/{where.as_posix()}/{stem}/"
            )
    for module in sorted(src.rglob("*.py")):
        if module.name == "__init__.py":
            continue
        where = module.parent.relative_to(src)
        shown = module.relative_to(root).as_posix()
        if (tests / where / f"test_{module.stem}.py").exists():
            if shown in allowed:
                problems.append(f"{shown}: has a test now; take it off the allow-list")
            continue
        package_test = tests / where / f"test_{module.parent.name}.py"
        dotted = ".".join(module.relative_to(root).with_suffix("").parts)
        if package_test.exists() and (
            shown in (text := package_test.read_text(encoding="utf-8")) or dotted in text
        ):
            continue
        if shown not in allowed:
            problems.append(
                f"{shown}: no tests/{where.as_posix()}/test_{module.stem}.py "
                f"(nor named by the package's test module)"
            )
    problems += [
        f"{name}: on the allow-list but not in src/"
        for name in allowed
        if not (root / name).exists()
    ]
    return problems


def test_the_tests_mirror_src() -> None:
    assert layout_problems(ROOT / "src", ROOT / "tests") == []


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text('"""src/pkg/named.py"""\n', encoding="utf-8")


def test_the_checker_notices_a_stray_test_and_an_untested_module(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "src/core/kept.py",
            "src/pkg/named.py",
            "src/pkg/other.py",
            "tests/core/__init__.py",
            "tests/core/test_kept.py",
            "tests/core/test_kept_slowly.py",
            "tests/pkg/__init__.py",
            "tests/pkg/test_pkg.py",
            "tests/campaigns/test_anything.py",
        ],
    )
    clean = layout_problems(tmp_path / "src", tmp_path / "tests", {"src/pkg/other.py": "why"})
    assert clean == []
    _tree(tmp_path, ["tests/core/test_nonexistent.py", "src/core/new.py"])
    assert layout_problems(tmp_path / "src", tmp_path / "tests", {"src/pkg/other.py": "why"}) == [
        "tests/core/test_nonexistent.py: there is no src/core/nonexistent.py "
        "nor package src/core/nonexistent/",
        "src/core/new.py: no tests/core/test_new.py (nor named by the package's test module)",
    ]


def test_the_checker_notices_a_stale_allow_list_entry(tmp_path: Path) -> None:
    _tree(tmp_path, ["src/core/kept.py", "tests/core/__init__.py", "tests/core/test_kept.py"])
    allowed = {"src/core/kept.py": "why", "src/core/gone.py": "why"}
    assert layout_problems(tmp_path / "src", tmp_path / "tests", allowed) == [
        "src/core/kept.py: has a test now; take it off the allow-list",
        "src/core/gone.py: on the allow-list but not in src/",
    ]
