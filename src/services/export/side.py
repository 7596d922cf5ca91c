"""Writers in a second process: a big result's CSV and PDF written on the other core.

Every writer holds the GIL while it turns rows into its format, so a run writing three
files kept one core busy with all of them while the second only compressed the xlsx.
For a big result, some of a run's writers run in a child process
(``python -m src.services.export.side``, started by :class:`SideWriters`; which writers
go there is ``export/writers.py``'s call). A COPY text batch crosses the pipe as the
text it was split from (one string, no work per value) with the values of the columns
only the driver can read (``OTHER``: time, interval, json, ...); the child splits it
again and reads the rest with :data:`~src.core.text_batch.TEXT_DECODERS`, as the run's
own process would. (Rows of Python values stay in the run's process: writers.py.)

The child's files behave as the run's own: written under a temporary name, renamed at
close, removed on abort; the run's totals are counted once by the run and sent at close.
A writer's failure comes back at once (the next batch raises it) as the ExportError it
raised, or as one naming the format for any other exception (its traceback goes to the
child's stderr, the run's log). The child ignores SIGINT (Ctrl-C on ``run`` reaches the
whole process group: the run aborts it); on SIGTERM (a timeout ends the run's process
group) and at the end of its input (its run died) it removes its partial files and ends.

Wire (length-prefixed pickles, both ways; only this process's own child reads them):
run -> child on its stdin: ``("open", [(format, path, options)], columns, context,
kinds, zone)``, ``("text", lines, length, decoded)``, ``("records", text, count)`` (a
CSV alone: records the run made), ``("close", totals)``,
``("abort",)``; child -> run on the descriptor given as its argument:
``("closed", files)`` after a close, or ``("failed", message, permanent)``.
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import io
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from src.core.column_format import Totals
from src.core.errors import ExportError
from src.core.result import Column
from src.core.text_batch import TEXT_DECODERS, Decoder, TextBatch, TextForm, TextKind
from src.services.child_env import module_env
from src.services.export import heap
from src.services.export.base import ExportContext, ExportFile, ExportWriter

#: Batches queued for the child before the run waits for it (each one batch of COPY text,
#: ~1 MB at 5,000 rows of 10 columns): the run goes on while the child starts.
SEND_AHEAD = 4
#: Seconds the run waits for the child to end after an abort before killing it.
STOP_SECONDS = 10.0
#: The pipe to the child: 1 MiB, so a batch goes over in one or two writes.
PIPE_BYTES = 1 << 20
_HEADER = struct.Struct("!Q")
_DISPATCH: dict[type, Any] = {
    **copyreg.dispatch_table,
    memoryview: lambda m: (bytes, (m.tobytes(),)),
}


class SideWriters:
    """Some writers of one run, run by a child process: fed every batch at once,
    closed together (their files in the order given)."""

    def __init__(
        self,
        files: Sequence[tuple[str, Path, Mapping[str, Any]]],
        columns: Sequence[Column],
        context: ExportContext,
        form: TextForm,
    ) -> None:
        """``form``: the COPY text's (every batch is one of its text batches)."""
        self.formats = [fmt for fmt, _, _ in files]
        self._paths = [path for _, path, _ in files]
        self._other = [i for i, kind in enumerate(form.kinds) if kind not in TEXT_DECODERS]
        replies, child_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "src.services.export.side", str(child_end)],
                stdin=subprocess.PIPE,
                pass_fds=(child_end,),
                env=module_env(),
            )
        finally:
            os.close(child_end)
        self._replies = os.fdopen(replies, "rb")
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError):  # a smaller pipe only costs more writes
            fcntl.fcntl(stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=SEND_AHEAD)
        self._broken: OSError | None = None
        self._sender = threading.Thread(
            target=self._send_all, args=(stdin,), name="side-writers", daemon=True
        )
        self._sender.start()
        self._done = False
        self._send(("open", list(files), list(columns), context, form.kinds, form.zone))

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    # -- the run's side

    def write_batch(self, rows: TextBatch) -> None:
        """A batch of COPY text (``rows.lines`` set), sent as that text."""
        self._raise_failure(wait=False)
        if rows.lines is None:
            raise ValueError("only a batch of COPY text (its lines) goes to a side process")
        decoded = {i: rows.column(i) for i in self._other}
        self._send(("text", rows.lines, len(rows), decoded))

    def write_records(self, text: str, count: int) -> None:
        """``count`` rows already made CSV records (the child's one writer is a CSV)."""
        self._raise_failure(wait=False)
        self._send(("records", text, count))

    def close(self, totals: Totals | None) -> list[ExportFile]:
        """The child's files, once it has written every batch (raises its failure)."""
        self._send(("close", totals))
        reply = self._raise_failure(wait=True)
        self._finish()
        assert reply is not None and reply[0] == "closed"
        files: list[ExportFile] = reply[1]
        return files

    def abort(self) -> None:
        """Stop the child; no file of it is left, even when it died (idempotent)."""
        if self._done:
            return
        with contextlib.suppress(ExportError, queue.Full):  # a stuck child is killed below
            self._send(("abort",), timeout=STOP_SECONDS)
        self._finish()
        for path in self._paths:  # a child killed mid-write leaves its temporary files
            for part in path.parent.glob(f".{path.name}.*.part"):
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()

    def _send(self, message: tuple[Any, ...], timeout: float | None = None) -> None:
        if self._broken is not None:
            self._raise_failure(wait=True)
        self._queue.put(_dumps(message), timeout=timeout)

    def _raise_failure(self, wait: bool) -> tuple[Any, ...] | None:
        """The child's reply: waited for, or only if one is there; a failure raised."""
        if not wait and not select.select([self._replies], [], [], 0)[0]:
            return None
        reply = _read(self._replies)
        if reply is None:  # the child ended without a word
            self._finish()
            raise ExportError(
                f"the process writing the {' and '.join(self.formats)} stopped "
                f"(exit code {self._process.returncode}); see the log above for why",
                permanent=False,
            )
        if reply[0] == "failed":
            self.abort()
            raise ExportError(reply[1], permanent=reply[2])
        return tuple(reply)

    def _finish(self) -> None:
        """End the input, wait for the child (killed past STOP_SECONDS), close the pipes."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=STOP_SECONDS)
        self._sender.join(timeout=STOP_SECONDS)
        try:
            self._process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._replies.close()

    def _send_all(self, stdin: IO[bytes]) -> None:
        """The sender thread: queued messages to the child (the GIL is free while it
        writes); after a broken pipe it only drains the queue."""
        while (message := self._queue.get()) is not None:
            if self._broken is None:
                try:
                    stdin.write(_HEADER.pack(len(message)))
                    stdin.write(message)
                    stdin.flush()
                except OSError as exc:
                    self._broken = exc
        with contextlib.suppress(OSError):
            stdin.close()


def _read(stream: IO[bytes]) -> Any:
    """One message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def _dumps(message: tuple[Any, ...]) -> bytes:
    """A message pickled; a bytea value (a memoryview) goes as bytes, which every writer
    writes the same way."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(message)
    return buffer.getvalue()


def _write(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    body = _dumps(message)
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


# --------------------------------------------------------------------------- the child


def _needs_the_run(kind: TextKind) -> Decoder:
    def decode(text: str) -> Any:
        raise ExportError(f"a {kind} value came without its decoded form", permanent=True)

    return decode


def serve(commands: IO[bytes], replies: IO[bytes]) -> int:
    """The child's loop: open the writers, write each batch, close or abort them."""
    from src.services.export import get_exporter
    from src.services.export.csv_export import CsvWriter

    writers: list[tuple[str, ExportWriter]] = []
    context: ExportContext | None = None
    form: TextForm | None = None
    failed = False
    batches = 0
    try:
        while (message := _read(commands)) is not None:
            command = message[0]
            if command == "abort":
                break
            if failed:  # the run has been told; it aborts or closes next
                continue
            try:
                if command == "open":
                    _, files, columns, context, kinds, zone = message
                    decoders = tuple(TEXT_DECODERS.get(k) or _needs_the_run(k) for k in kinds)
                    form = TextForm(tuple(kinds), decoders, zone)
                    for fmt, path, options in files:
                        writer = get_exporter(fmt).open(path, columns, context, options)
                        writers.append((fmt, writer))
                elif command == "text":
                    assert form is not None
                    _, lines, length, decoded = message
                    batch = TextBatch.from_lines(lines, length, form, decoded=dict(decoded))
                    for _, writer in writers:
                        writer.write_batch(batch)
                    batches += 1
                    if batches % heap.TRIM_BATCHES == 0:
                        heap.trim()
                elif command == "records":
                    [(_, writer)] = writers
                    assert isinstance(writer, CsvWriter)
                    writer.write_records(message[1], message[2])
                elif command == "close":
                    totals = message[1]
                    if context is not None and context.totals is not None and totals is not None:
                        context.totals.take(totals)
                    files_done = [writer.close() for _, writer in writers]
                    writers = []
                    _write(replies, ("closed", files_done))
            except ExportError as exc:
                failed = True
                _write(replies, ("failed", str(exc), exc.permanent))
            except Exception as exc:  # a writer's bug: the run is told which one, the log why
                failed = True
                traceback.print_exc(file=sys.stderr)
                names = " and ".join(fmt for fmt, _ in writers) or "files"
                _write(replies, ("failed", f"writing the {names} failed: {exc!r}", True))
    finally:
        for _, writer in writers:
            writer.abort()
    return 0


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (the run's process group past its deadline): unwind, so ``serve`` aborts
    its writers and their temporary files go, then end as SIGTERM's exit code says."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run decides: it aborts or closes
    signal.signal(signal.SIGTERM, _terminated)  # a run's timeout: its files go with it
    with (
        os.fdopen(sys.stdin.fileno(), "rb", closefd=False) as commands,
        os.fdopen(int(argv[1]), "wb") as replies,
    ):
        return serve(commands, replies)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
