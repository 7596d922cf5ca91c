"""Shim for the merge: ``src/services/scheduler/worker.py`` still imports ``load_env``
from here. Remove once it imports ``src.services.envparse`` (connections are
``src/services/connections.py``)."""

from __future__ import annotations

from src.services.envparse import load_env

__all__ = ["load_env"]
