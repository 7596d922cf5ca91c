"""Reading settings from .env and the environment (src/services/envparse.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from src.services.envparse import load_env


def test_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DB_A_URL=sqlite:///from-file.db\nDB_B_URL=sqlite:///only-file.db\n")
    monkeypatch.setenv("DB_A_URL", "sqlite:///from-env.db")
    env = load_env(dotenv)
    assert env["DB_A_URL"] == "sqlite:///from-env.db"
    assert env["DB_B_URL"] == "sqlite:///only-file.db"
    assert "DB_B_URL" not in os.environ  # the process environment is left alone
