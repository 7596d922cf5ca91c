"""The query service: named connections, streamed rows, timeouts, clear errors."""

from __future__ import annotations

from src.services.query.service import DEFAULT_BATCH_SIZE, QueryService

__all__ = ["DEFAULT_BATCH_SIZE", "QueryService"]
