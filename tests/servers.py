"""Where the test servers are, and the skip-or-fail rule for tests that need them.

``scripts/setup-services.sh`` (run by ``make test``) starts PostgreSQL and MariaDB on
loopback and writes their URLs to ``.test-services.env``; a variable of the same name in
the environment wins, so a laptop can point the suite at its own servers.

A test that needs a service calls :func:`require`: locally it skips with the reason,
under ``CI=true`` it fails, so CI never passes by skipping.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES_ENV_FILE = ROOT / ".test-services.env"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require(condition: object, reason: str) -> None:
    """Skip the current test (locally) or fail it (CI=true) unless ``condition`` holds."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} [CI=true: a missing service fails the run]", pytrace=False)
    pytest.skip(f"{reason} (run `make services` to start it)")


def service_settings() -> dict[str, str]:
    """``.test-services.env`` (KEY=VALUE lines), overridden by the environment."""
    settings: dict[str, str] = {}
    if SERVICES_ENV_FILE.exists():
        for line in SERVICES_ENV_FILE.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    for key, value in os.environ.items():
        if key.startswith("TEST_"):
            settings[key] = value
    return settings


def unique_name(prefix: str = "t") -> str:
    """A name no other test or xdist worker uses: ``<prefix>_<12 hex>``."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class OdbcTarget:
    """An ODBC driver (as registered in /etc/odbcinst.ini) and the server to reach with it."""

    driver: str
    host: str
    port: int
    user: str
    password: str
    database: str

    def connection_string(self) -> str:
        """A DSN-less ODBC connection string; the keywords both drivers accept."""
        return (
            f"DRIVER={{{self.driver}}};SERVER={self.host};PORT={self.port};"
            f"DATABASE={self.database};UID={self.user};PWD={self.password}"
        )

    def sqlalchemy_url(self, dialect: str) -> str:
        """``mysql+pyodbc:///?odbc_connect=...`` and the like for SQLAlchemy."""
        return f"{dialect}+pyodbc:///?odbc_connect={quote_plus(self.connection_string())}"
