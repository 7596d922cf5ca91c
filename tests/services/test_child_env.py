"""src/services/child_env.py: a child ``python -m src...`` imports this project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from src.services.child_env import PROJECT_ROOT, module_env


def test_module_env_lets_a_child_import_the_project_from_any_folder(tmp_path: Path) -> None:
    code = "import src.services.child_env as e; print(e.PROJECT_ROOT)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path, env=module_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == PROJECT_ROOT == Path(__file__).resolve().parents[2]
    assert module_env()["PYTHONPATH"].split(os.pathsep)[0] == str(PROJECT_ROOT)
