"""A step's program, for real: killed with every process it started at its timeout (also
a grandchild that ignores SIGTERM and forked away), its output capped, its cost read
from the OS."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from src.services.steps.process import STEP_MARKER, Tail, marked_processes, run_program

GRANDCHILD = """
import os, signal, sys, time
child = os.fork()
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork():
        os._exit(0)  # double fork: the grandchild is re-parented away from the step
    with open(sys.argv[1], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(300)
    os._exit(0)
os.waitpid(child, 0)
print("waiting", flush=True)
time.sleep(300)
"""


def _env(marker: str) -> dict[str, str]:
    return {**os.environ, STEP_MARKER: marker}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting for its parent (init) to reap it


def test_a_grandchild_that_ignores_sigterm_is_killed_at_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "grandchild.py"
    script.write_text(GRANDCHILD)
    pid_file = tmp_path / "grandchild.pid"
    marker = f"test-{os.getpid()}-{time.monotonic_ns()}"
    started = time.monotonic()
    result = run_program(
        [sys.executable, str(script), str(pid_file)],
        cwd=tmp_path,
        env=_env(marker),
        timeout=1.5,
        marker=marker,
        cap=1000,
    )
    took = time.monotonic() - started
    assert result.timed_out
    assert result.stdout.lines(5) == ["waiting"]
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
    assert marked_processes(STEP_MARKER, marker) == []
    assert 1.5 <= took < 10  # the timeout, the SIGTERM grace, then SIGKILL


def test_a_step_allocating_200_mb_reports_at_least_that(tmp_path: Path) -> None:
    marker = f"test-mem-{time.monotonic_ns()}"
    code = "data = b'x' * (200 * 1024 * 1024); print(len(data))"
    result = run_program(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_env(marker),
        timeout=60,
        marker=marker,
        cap=100,
    )
    assert result.exit_code == 0 and not result.timed_out
    assert result.max_rss_bytes >= 200 * 1024 * 1024
    assert result.cpu_user_seconds + result.cpu_system_seconds > 0


def test_cpu_of_a_child_the_program_waited_for_is_counted(tmp_path: Path) -> None:
    marker = f"test-cpu-{time.monotonic_ns()}"
    busy = "import time\\nend = time.process_time() + 0.5\\nwhile time.process_time() < end: pass"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', '{busy}'], check=True)"
    result = run_program(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_env(marker),
        timeout=60,
        marker=marker,
        cap=100,
    )
    assert result.exit_code == 0
    assert result.cpu_user_seconds + result.cpu_system_seconds >= 0.45


def test_output_past_the_cap_is_counted_not_kept(tmp_path: Path) -> None:
    marker = f"test-out-{time.monotonic_ns()}"
    code = (
        "import sys\nfor i in range(100000): print(f'line {i}')\n"
        "print('oops', file=sys.stderr)\nsys.exit(3)"
    )
    result = run_program(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_env(marker),
        timeout=60,
        marker=marker,
        cap=4096,
    )
    assert result.exit_code == 3
    assert len(result.stdout.data) == 4096
    assert result.stdout.total == sum(len(f"line {i}\n") for i in range(100000))
    assert result.stdout.dropped == result.stdout.total - 4096
    assert result.stdout.lines(2) == ["line 99998", "line 99999"]
    assert result.stderr.lines(5) == ["oops"]


def test_a_tail_keeps_the_last_bytes() -> None:
    tail = Tail(cap=5)
    for chunk in (b"abc", b"defg", b"h"):
        tail.add(chunk)
    assert (tail.data, tail.dropped, tail.total) == (b"defgh", 3, 8)
