"""manage_tasks.py export / import / samples (src/cli/definitions.py), as a person uses them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli_steps import _invoke, folder  # noqa: F401 - the fixture
from tests.services.definitions.test_definitions import EARLIER


def test_export_then_import_dry_run_then_for_real(folder: Path, tmp_path: Path) -> None:  # noqa: F811
    exported = _invoke(folder, "export", "Steps")
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("# db-scheduler task definitions")
    assert "run_count" not in exported.stdout and "last_run" not in exported.stdout
    target = tmp_path / "elsewhere"
    target.mkdir()
    definitions = target / "steps.yaml"
    definitions.write_text(exported.stdout.replace("name: Steps", "name: Steps copy"))
    dry = _invoke(folder, "import", str(definitions), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[0] == "+ add 'Steps copy'"
    assert "Runs programs on this machine: 'Steps copy' (command step 'echo')" in dry.stdout
    assert dry.stdout.splitlines()[-1] == (
        "Dry run: 1 to add, 0 to replace, 0 unchanged; nothing was written"
    )
    before = (folder / "tasks.json").read_bytes()
    assert (folder / "tasks.json").read_bytes() == before
    done = _invoke(folder, "import", str(definitions))
    assert done.exit_code == 0 and "1 to add" in done.stdout.splitlines()[-1]
    names = [t["name"] for t in json.loads((folder / "tasks.json").read_text())["tasks"]]
    assert names == ["Steps", "Windows job", "Steps copy"]
    again = _invoke(folder, "import", str(definitions))
    assert again.exit_code == 1
    assert "give --replace to replace its definition" in again.stderr
    assert again.stderr.splitlines()[-1].endswith("1 problem(s); nothing was imported")


def test_samples_import_as_printed(folder: Path, tmp_path: Path) -> None:  # noqa: F811
    printed = _invoke(folder, "samples")
    assert printed.exit_code == 0
    assert printed.stdout.count("\n---\n") == 4
    path = tmp_path / "samples.yaml"
    path.write_text(printed.stdout)
    done = _invoke(folder, "import", str(path))
    assert done.exit_code == 0, done.output
    assert "5 to add" in done.stdout.splitlines()[-1]
    one = _invoke(folder, "samples", "python")
    assert one.stdout.startswith("# A sample task with a python step.")


def test_import_of_v1_jobs_lists_what_is_not_carried_over(folder: Path) -> None:  # noqa: F811
    result = _invoke(folder, "import", str(EARLIER / "v1_job_config.yaml"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "Note: job 'System Cleanup': run_as 'DOMAIN\\\\ServiceAccount' not carried over: steps "
        "run as the daemon's user"
    ) in result.stdout.splitlines()
    assert "Dry run: 4 to add" in result.stdout
