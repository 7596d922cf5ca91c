"""Freed memory back to the system while a big result is written.

glibc keeps what a process frees in its heaps for reuse, and raises its threshold for
serving big blocks from fresh memory as they are freed; a run that reads batches of ~1 MB
of text and writes them for minutes leaves more and more of its heaps free but resident.
A 1,000,000-row xlsx peaked at 136 MB against 112 MB at 100,000 rows; returning the
free pages every ``TRIM_BATCHES`` batches (``malloc_trim``) kept it at 112 -> 132 MB,
for a few ms per call (docs/performance.md, "Writers on the second core"). Elsewhere
than glibc, nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

#: Batches written between two trims.
TRIM_BATCHES = 10


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc
        return None
    return trim


def trim() -> bool:
    """Give the heaps' free pages back to the system; False where that cannot be done."""
    function = _malloc_trim()
    if function is None:
        return False
    function(0)
    return True
