"""Fixtures of the export tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from src.services.query import QueryService
from tests.services.query.test_copy_rows import load_every_type


@pytest.fixture
def every_type_pg(pg_fresh_url: str) -> Iterator[QueryService]:
    """A query service on a database holding test_copy_rows.py's table of every type."""
    load_every_type(pg_fresh_url)
    service = QueryService({"DATABASE_URL": pg_fresh_url})
    yield service
    service.close()
