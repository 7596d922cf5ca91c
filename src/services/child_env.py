"""The environment a child ``python -m src....`` of this tool runs in (a run's worker,
a run's side process): this process's own, with the project first on ``PYTHONPATH``,
so the child imports the same code whatever its working directory."""

from __future__ import annotations

import os
from pathlib import Path

#: The project's root: what a child started with ``python -m src...`` imports from.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def module_env() -> dict[str, str]:
    """This process's environment with :data:`PROJECT_ROOT` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env
