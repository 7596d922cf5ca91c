"""The handoff from the HTTP threads to the main loop (src/services/webhook/control.py)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from src.services.webhook import Handoff, Unavailable

# --- handoff to the main thread ---------------------------------------------------------------


def test_handoff_runs_on_the_main_thread_and_returns_or_raises() -> None:
    wake = threading.Event()
    handoff = Handoff(wake.set, timeout=30)
    results: list[Any] = []
    threads_seen: list[str] = []

    def ask(fn: Any) -> None:
        try:
            results.append(handoff.call(fn))
        except Exception as exc:
            results.append(exc)

    def on_main() -> str:
        threads_seen.append(threading.current_thread().name)
        return "done"

    def failing() -> str:
        raise ValueError("refused")

    callers = [threading.Thread(target=ask, args=(fn,)) for fn in (on_main, failing)]
    for caller in callers:
        caller.start()
    ran = 0
    while ran < 2:
        assert wake.wait(30), "no call arrived (hang guard)"
        wake.clear()
        ran += handoff.run_pending()
    for caller in callers:
        caller.join(30)
    assert threads_seen == [threading.current_thread().name]
    assert "done" in results
    assert any(isinstance(r, ValueError) and str(r) == "refused" for r in results)


def test_handoff_times_out_when_the_loop_does_not_answer() -> None:
    handoff = Handoff(lambda: None, timeout=0.05)
    ran: list[int] = []
    with pytest.raises(Unavailable, match=re.escape("did not answer within 0.05 s")):
        handoff.call(lambda: ran.append(1))
    assert handoff.run_pending() == 0  # the timed-out call is cancelled, never run later
    assert ran == []


def test_handoff_close_fails_waiting_calls_and_refuses_new_ones() -> None:
    handoff = Handoff(lambda: None, timeout=30)
    errors: list[Exception] = []

    def ask() -> None:
        try:
            handoff.call(lambda: 1)
        except Unavailable as exc:
            errors.append(exc)

    caller = threading.Thread(target=ask)
    caller.start()
    queued = threading.Event()
    for _ in range(3000):  # until the call is queued (hang guard: 30 s)
        if handoff._calls:
            break
        queued.wait(0.01)
    handoff.close()
    caller.join(30)
    assert [str(e) for e in errors] == ["the scheduler is stopping"]
    with pytest.raises(Unavailable):
        handoff.call(lambda: 1)
