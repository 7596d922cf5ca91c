"""Named errors raised by the domain; the CLI and the daemon translate them.

Every message says what is wrong, where, and what is accepted, so the edge can
print it as is (``Error: ...``) without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest_field(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close known name, else nothing: for messages."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


class SchedulerError(Exception):
    """Base of every error this product raises on purpose."""


class ValidationError(SchedulerError):
    """A value given by a person (CLI option, tasks.json field) is not acceptable.

    ``field`` is the dotted path of the offending field (``email.to[1]``), so a
    message can point at it; ``task`` names the task when known.
    """

    def __init__(self, field: str, message: str, task: str | None = None) -> None:
        self.field = field
        self.message = message
        self.task = task
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"task {self.task!r}: " if self.task else ""
        return f"{where}{self.field}: {self.message}"


class ConflictingValues(ValidationError):
    """Two values given together where only one may be (two schedule kinds; query and
    query_file). ``field`` names the group (``schedule``, ``query``)."""


class TaskValidationErrors(SchedulerError):
    """Several ValidationErrors found in one task or file, reported together."""

    def __init__(self, errors: list[ValidationError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class StoreError(SchedulerError):
    """tasks.json cannot be read, parsed or written; the file is left as it was."""


class StoreBusy(StoreError):
    """Another process held tasks.json's lock longer than this writer would wait."""


class TaskNotFound(SchedulerError):
    """No task matches the id, id prefix or name a person gave."""


class AmbiguousTask(SchedulerError):
    """An id prefix matches more than one task."""


class DuplicateTaskName(SchedulerError):
    """Task names are unique, compared case-insensitively."""


class NotRecorded(SchedulerError):
    """A run's start could not be recorded (a full disk): it did nothing and may run later."""


class ConfigError(SchedulerError):
    """A setting in .env / the environment is missing or invalid."""


class RunError(SchedulerError):
    """A step of a run failed.

    ``permanent`` says whether trying again can help: a syntax error in the SQL
    or a refused recipient is permanent; a dropped connection or an SMTP 4xx
    answer is transient and worth a retry.
    """

    kind = "run"

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


class QueryError(RunError):
    kind = "query"


class QueryTimeout(QueryError):
    kind = "timeout"


class ExportError(RunError):
    kind = "export"


class EmailError(RunError):
    kind = "email"


class StepError(RunError):
    """One or more steps of a run failed; the message is the first failure's."""

    kind = "step"


class DefinitionError(SchedulerError):
    """A file given to `import` cannot be read, or its definitions cannot all be imported;
    nothing was written."""
