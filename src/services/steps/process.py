"""Running one program of a step: inside the run's process group, with a deadline, its
output kept up to a cap, and what it cost measured by the OS.

* The program is started without ``start_new_session``: it and everything it starts
  stay in the run's process group, so the daemon's timeout and shutdown (``killpg`` of
  the run) reach them all.
* Every process of a step carries a marker in its environment (``DB_SCHEDULER_STEP``,
  one value per step attempt, and ``DB_SCHEDULER_RUN_ID``). Children inherit it, also
  a grandchild that forked away and was re-parented to init, so at the step's own
  timeout, and when the step ends, whatever still carries the marker is found in
  ``/proc`` and killed (SIGTERM, then SIGKILL): a step leaves nothing running. A
  program that clears its own environment escapes this search (not the run's group).
* CPU time (user, system) and peak memory come from ``os.wait4``: the program's own
  figures plus those of the children it waited for.
* stdout and stderr are read by two threads; each keeps the last ``cap`` bytes and
  counts the bytes before them.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: The marker variables (name=value in a process's environment).
STEP_MARKER = "DB_SCHEDULER_STEP"
RUN_MARKER = "DB_SCHEDULER_RUN_ID"
#: How long a process has between SIGTERM and SIGKILL when a step is stopped.
TERM_GRACE_SECONDS = 2.0
#: How often the deadline is checked while a program runs.
POLL_SECONDS = 0.05


@dataclass
class Tail:
    """The last ``cap`` bytes of a stream, and how many bytes came before them."""

    cap: int
    data: bytes = b""
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        data = self.data + chunk
        if len(data) > self.cap:
            self.dropped += len(data) - self.cap
            data = data[-self.cap :]
        self.data = data

    @property
    def total(self) -> int:
        return self.dropped + len(self.data)

    def lines(self, count: int) -> list[str]:
        text = self.data.decode("utf-8", errors="replace")
        return text.splitlines()[-count:] if count else []


@dataclass
class ProgramResult:
    exit_code: int
    timed_out: bool
    stdout: Tail
    stderr: Tail
    cpu_user_seconds: float
    cpu_system_seconds: float
    max_rss_bytes: int
    #: processes the program left running (killed when the step ended)
    leftovers: int


def marked_processes(name: str, value: str) -> list[int]:
    """The pids of this user's processes whose environment holds ``name=value``."""
    needle = f"{name}={value}".encode()
    found = []
    own = os.getpid()
    for entry in Path("/proc").iterdir():
        if not (entry.name.isascii() and entry.name.isdigit()) or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_marked(
    name: str,
    value: str,
    grace: float = TERM_GRACE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """SIGTERM every process marked ``name=value``, SIGKILL those still there after
    ``grace`` seconds; returns how many there were."""
    pids = marked_processes(name, value)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    waited = 0.0
    while pids and waited < grace:
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
        if not [p for p in marked_processes(name, value) if p in pids]:
            break
    for pid in marked_processes(name, value):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def _read(stream: IO[bytes], tail: Tail) -> None:
    fd = stream.fileno()
    with stream:
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            tail.add(chunk)


def run_program(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    marker: str,
    cap: int,
    monotonic: Callable[[], float] = time.monotonic,
) -> ProgramResult:
    """Run ``argv`` to its end or ``timeout`` seconds; ``env`` must hold
    ``STEP_MARKER=marker``. Raises OSError when the program cannot be started."""
    if env.get(STEP_MARKER) != marker:
        raise ValueError(f"the environment of a step's program must hold {STEP_MARKER}={marker}")
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
    )
    out, err = Tail(cap), Tail(cap)
    assert process.stdout is not None and process.stderr is not None
    readers = [
        threading.Thread(target=_read, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_read, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = monotonic() + timeout
    timed_out = False
    reaped: tuple[int, int, resource.struct_rusage] | None = None
    try:
        while reaped is None:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                reaped = (pid, status, usage)
                break
            if monotonic() >= deadline:
                timed_out = True
                kill_marked(STEP_MARKER, marker)
                # it may have cleared its environment; os.kill, not Popen.kill, which
                # would reap it (Popen.poll) and lose its rusage
                os.kill(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                reaped = (pid, status, usage)
                break
            time.sleep(POLL_SECONDS)
    finally:
        if reaped is None:  # stopped from outside (the run's SIGTERM): take the step along
            kill_marked(STEP_MARKER, marker, grace=0)
            os.kill(process.pid, signal.SIGKILL)  # not reaped yet: the pid is still its
            with contextlib.suppress(ChildProcessError):
                os.wait4(process.pid, 0)
            process.returncode = -signal.SIGKILL
    _pid, status, usage = reaped
    process.returncode = os.waitstatus_to_exitcode(status)
    leftovers = kill_marked(STEP_MARKER, marker)
    for reader in readers:
        reader.join(timeout=5)  # the pipes close when the last holder is gone
    return ProgramResult(
        exit_code=process.returncode,
        timed_out=timed_out,
        stdout=out,
        stderr=err,
        cpu_user_seconds=usage.ru_utime,
        cpu_system_seconds=usage.ru_stime,
        max_rss_bytes=usage.ru_maxrss * 1024,  # Linux: kilobytes
        leftovers=leftovers,
    )
