"""The closed vocabularies of db-scheduler, each spelled once.

Each is a ``StrEnum``: a member equals its plain string and is written to JSON as
that string, so tasks.json and runs.jsonl written before these existed stay valid.
Every member carries a one-line ``help``, used for CLI help and checked against
the docs (tests/core/test_vocabulary.py).
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Self


class Vocabulary(StrEnum):
    """A closed set of words; members are declared as ``NAME = "value", "one-line help"``."""

    help: str

    def __new__(cls, value: str, help: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.help = help
        return member

    def __repr__(self) -> str:
        # as the plain string: messages built with {value!r} read the same whether the
        # value came from tasks.json or from the model ('rows', not <SendIf.ROWS: 'rows'>)
        return repr(self.value)

    @classmethod
    @cache
    def values(cls) -> tuple[str, ...]:
        """The plain strings, in declaration order (for click.Choice and messages)."""
        return tuple(member.value for member in cls)

    @classmethod
    def describe(cls) -> str:
        """``a: help; b: help``: every value with its help, for option help texts."""
        return "; ".join(f"{member.value}: {member.help}" for member in cls)


class RunStatus(Vocabulary):
    """How a run ended (``running`` while it goes), in runs.jsonl and a task's summary."""

    SUCCESS = "success", "the query ran, the files were written and the email went out"
    FAILED = "failed", "an error stopped the run (the record says whether a retry can help)"
    TIMEOUT = "timeout", "the run took longer than the task's timeout_seconds and was stopped"
    SKIPPED = "skipped", "the occurrence was not run (missed, or the daemon was stopping)"
    INTERRUPTED = "interrupted", "the run was cut off (crash, kill, shutdown) before it finished"
    RUNNING = "running", "the run has started and not finished yet"


#: Statuses a run ends with: everything but running.
FINAL_STATUSES: tuple[RunStatus, ...] = tuple(s for s in RunStatus if s is not RunStatus.RUNNING)


class Trigger(Vocabulary):
    """What started a run, as recorded in runs.jsonl."""

    MANUAL = "manual", "manage_tasks.py run"
    SCHEDULE = "schedule", "the daemon, at a fire time of the task's schedule"
    WEBHOOK = "webhook", "a call to the HTTP API"
    CATCH_UP = "catch-up", "the daemon, for an occurrence missed while it was down"


#: The triggers of runs that belong to the schedule (the unit of "exactly once");
#: manual and webhook runs are extra runs.
SCHEDULED_TRIGGERS: tuple[Trigger, ...] = (Trigger.SCHEDULE, Trigger.CATCH_UP)


class CatchUpPolicy(Vocabulary):
    """What the daemon does with a task's runs missed while it was down."""

    SKIP = "skip", "run none of them"
    LATEST = "latest", "run only the latest one, once (the default)"
    ALL = "all", "run all of them, oldest first"


#: The policy of a task that does not set ``catch_up``.
DEFAULT_CATCH_UP = CatchUpPolicy.LATEST


class SendIf(Vocabulary):
    """When a run sends its email (a task's ``email.send_if``)."""

    ALWAYS = "always", "every run"
    ROWS = "rows", "only when the result has rows"
    NO_ROWS = "no_rows", "only when the result is empty (an alert that something is missing)"


class ExportFormat(Vocabulary):
    """The file formats a report can be exported as, in the order they are written."""

    XLSX = "xlsx", "an Excel workbook"
    PDF = "pdf", "a PDF table"
    CSV = "csv", "a CSV file"


class ColumnType(Vocabulary):
    """What a column's values are, when the database does not say (task field ``types``)."""

    DATE = "date", "ISO dates (2026-01-31) become real dates; other values stay text"
    DATETIME = "datetime", "ISO date-times (2026-01-31 09:30:00) become real date-times"
    TEXT = "text", "left as the database gave it: never recognised as dates"


class ValueFormat(Vocabulary):
    """How a column's values are shown (a task's ``columns.<name>.format``)."""

    INTEGER = "integer", "a whole number: 1,235"
    NUMBER = "number", "a number with decimals (default 2): 1,234.50"
    CURRENCY = "currency", "an amount in an ISO 4217 currency (decimals default 2): €1,234.50"
    PERCENT = "percent", "a fraction shown as a percentage (decimals default 0): 0.25 is 25%"
    DATE = "date", "a date by pattern (default yyyy-mm-dd)"
    DATETIME = "datetime", "a date-time by pattern (default yyyy-mm-dd hh:mm:ss)"
    TEXT = "text", "the value as text, never as a number"
    BOOLEAN = "boolean", 'true and false as two words (words: ["paid", "open"])'


class TotalKind(Vocabulary):
    """What a column's cell of the totals row holds (a task's ``columns.<name>.total``)."""

    SUM = "sum", "the sum of the column's numbers"
    AVG = "avg", "the average of the column's numbers"
    MIN = "min", "the smallest value"
    MAX = "max", "the largest value"
    COUNT = "count", "how many values are not empty"


class Comparison(Vocabulary):
    """The operators of a highlight rule's ``when`` (``"< 0"``, ``">= 1000"``), with a number."""

    LT = "<", "less than"
    LE = "<=", "less than or equal to"
    GT = ">", "greater than"
    GE = ">=", "greater than or equal to"
    EQ = "=", "equal to"
    NE = "!=", "not equal to"


class HighlightStyle(Vocabulary):
    """How a highlighted cell looks (a highlight rule's ``style``); styles of several
    rules that hold for one cell add up (red and bold and filled)."""

    NEGATIVE = "negative", "red text (#C00000), for losses and shortfalls"
    STRONG = "strong", "bold text, for figures to look at first"
    FILL = "fill", "a light yellow fill (#FFF2CC) behind the cell, to mark it"


class ChartType(Vocabulary):
    """The kinds of a task's ``chart``."""

    BAR = "bar", "vertical bars, one group per row, one bar per y column"
    LINE = "line", "one line per y column across the rows"
    PIE = "pie", "one slice per row, of a single y column"


class ReportLocale(Vocabulary):
    """How numbers, amounts and month names read in a task's PDF, email and dry run (a
    task's ``locale``); from the Unicode CLDR data (through babel)."""

    EN = "en", "English (US), the default: 1,234.50, €1,234.50, 25%"
    EN_GB = "en_GB", "English (UK): 1,234.50, £1,234.50, 25%"
    DE = "de", "German (Germany): 1.234,50, 1.234,50 €, 25 %"
    DE_AT = "de_AT", "German (Austria): 1.234,50, € 1.234,50, 25 %"
    DE_CH = "de_CH", "German (Switzerland): 1'234.50, CHF 1'234.50, 25%"
    FR = "fr", "French (France): 1 234,50 (narrow no-break space), 1 234,50 €, 25 %"
    FR_CH = "fr_CH", "French (Switzerland): 1'234,50, 1'234,50 CHF, 25%"
    IT = "it", "Italian: 1.234,50, 1.234,50 €, 25%"
    NL = "nl", "Dutch: 1.234,50, € 1.234,50, 25%"


#: The locale of a task that does not set ``locale``: outputs as before locales existed.
DEFAULT_LOCALE = ReportLocale.EN


class StepKind(Vocabulary):
    """What one step of a task with ``steps`` does (a step's ``kind``)."""

    SQL = "sql", "a query or statement on a connection; with exports, a report (xlsx/pdf/csv)"
    COMMAND = "command", "a program with an argument list (a shell only with shell: true)"
    PYTHON = "python", "a Python script with arguments, by the product's interpreter by default"
    POWERSHELL = "powershell", "a PowerShell script (file or inline) run by pwsh"
    EMAIL = "email", "a message with the files and figures of earlier steps"


#: The kinds that run a program on the machine: created or changed only by whoever can
#: write tasks.json (the CLI on the machine), never over HTTP; `validate` lists them.
CODE_STEP_KINDS: tuple[StepKind, ...] = (StepKind.COMMAND, StepKind.PYTHON, StepKind.POWERSHELL)


class OnFailure(Vocabulary):
    """What a failed step does to the rest of its run (a step's ``on_failure``)."""

    STOP = "stop", "the later steps do not run and the run fails (the default)"
    CONTINUE = "continue", "the later steps run; the run still ends failed"


class StepStatus(Vocabulary):
    """How one step of a run ended, in its record (``step_results`` of a run)."""

    SUCCESS = "success", "the step did what it was asked"
    FAILED = "failed", "the step failed (an error, or an exit code not accepted)"
    TIMEOUT = "timeout", "the step took longer than its timeout_seconds and was stopped"
    SKIPPED = "skipped", "the step did not run (an earlier step stopped the run, or send_if)"


class StepResultField(Vocabulary):
    """What a later step can read of an earlier one: ``{steps.<id>.<field>}``."""

    STATUS = "status", "success, failed, timeout or skipped"
    ROW_COUNT = "row_count", "rows a sql step returned"
    ROWS_AFFECTED = "rows_affected", "rows a sql statement changed (inserted, updated, deleted)"
    FILES = "files", "the step's files, as paths separated by ', '"
    EXIT_CODE = "exit_code", "the exit code of a command, python or powershell step"
    OUTPUT = "output", "the last lines the step printed (stdout, or stderr when stdout is empty)"
    LAST_LINE = "last_line", "the last line the step printed: one line, for a subject"
    DURATION = "duration", "how long the step took, in seconds"


class DefinitionFormat(Vocabulary):
    """How `export` writes task definitions and `import` reads this tool's own."""

    YAML = "yaml", "YAML (the default): comments allowed, for people"
    JSON = "json", "JSON, as in tasks.json"


class ImportSource(Vocabulary):
    """What `import --from` reads; without --from it is told from the file's content."""

    TASKS = "tasks", "this tool's definitions (export, tasks.json) or the earlier tool's tasks.json"
    V1 = "v1", "the V1 scheduler's jobs/job_config.yaml (sql, powershell, python, command jobs)"
    V2_YAML = "v2-yaml", "a V2 YAML job file (PS-001, SQL-001: inlineScript, retryPolicy, ...)"
    V2_JSON = "v2-json", "V2 JSON multi-step jobs (steps of type sql and powershell)"
