"""The environment a step's program gets: the run's, without the product's own secrets.

A command, Python or PowerShell step runs code that db-scheduler does not check. It
inherits the run process's environment minus every variable that holds one of the
product's secrets -- database URLs (``DATABASE_URL``, ``DB_<NAME>_URL``), the SMTP
login, tokens, passwords and secrets by name -- unless the step names it in
``pass_env`` (then its value comes from the product's settings, ``.env`` included).
The step's own ``env`` and the run's markers (``DB_SCHEDULER_RUN_ID``,
``DB_SCHEDULER_STEP``, ``DB_SCHEDULER_STEP_DIR``) are added last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from src.core.errors import RunError
from src.core.steps import ProcessStep
from src.services.steps.process import RUN_MARKER, STEP_MARKER

_SECRET = re.compile(
    r"DATABASE_URL|DB_[A-Z0-9_]+_URL|SMTP_(PASSWORD|USER|USERNAME)|WEBHOOK_TOKEN"
    r"|.*_(PASSWORD|PASSWD|TOKEN|SECRET|API_KEY)",
    re.IGNORECASE,
)
STEP_DIR_VARIABLE = "DB_SCHEDULER_STEP_DIR"


def is_product_secret(name: str) -> bool:
    """Whether a variable's name says it holds a secret a step does not get by default."""
    return _SECRET.fullmatch(name) is not None


def step_environment(
    step: ProcessStep,
    *,
    inherited: Mapping[str, str],
    settings: Mapping[str, str],
    rendered_env: Mapping[str, str],
    run_id: str,
    marker: str,
    step_dir: str,
) -> dict[str, str]:
    """``inherited`` (the run process's environment) without secrets, plus ``pass_env``
    from ``settings`` (the product's .env and environment), the step's ``env`` (already
    rendered) and the markers. A ``pass_env`` name that is set nowhere fails the step."""
    env = {k: v for k, v in inherited.items() if not is_product_secret(k)}
    for name in step.pass_env:
        value = settings.get(name, inherited.get(name))
        if value is None:
            raise RunError(
                f"step {step.id!r}: pass_env names {name!r}, which is set neither in .env nor "
                "in the environment; set it or remove it from pass_env",
                permanent=True,
            )
        env[name] = value
    env.update(rendered_env)
    env.update({RUN_MARKER: run_id, STEP_MARKER: marker, STEP_DIR_VARIABLE: step_dir})
    return env
