"""Every default in one place, each with the reason it was chosen."""

from __future__ import annotations

#: The connection a task uses when none is given: the one most setups define.
CONNECTION = "DATABASE_URL"
#: Long enough for a heavy report query, short enough that a hung one is noticed the same hour.
TIMEOUT_SECONDS = 300
#: A report reads; a statement that writes by mistake (a DELETE pasted in) fails instead of
#: changing data. Writing is an explicit choice: --read-write / "read_only": false.
READ_ONLY = True
#: Two retries ride out a database restart or an SMTP hiccup without spamming on a real fault.
RETRY_MAX = 2
#: A minute lets a restarting server come back.
RETRY_DELAY_SECONDS = 60.0
#: Doubling spaces retries out: 60 s, 120 s, ...
RETRY_BACKOFF = 2.0
#: Subject and body used when a task does not set its own.
EMAIL_SUBJECT = "{task_name} - {run_date:%Y-%m-%d}"
EMAIL_BODY = "Report {task_name}: {row_count} rows, generated at {run_time:%Y-%m-%d %H:%M %Z}."
#: The file name stem of an export; the extension is added.
FILENAME_TEMPLATE = "{task_name}_{run_date:%Y-%m-%d}"
#: The tasks file when neither --tasks-file nor TASKS_FILE says otherwise.
TASKS_FILE = "tasks.json"
#: How long a CLI command waits for another writer of tasks.json before giving up.
LOCK_TIMEOUT_SECONDS = 30.0
#: Fire times `show` lists.
SHOW_UPCOMING = 5
#: Past runs `show` lists (the rest: `history`).
SHOW_RECENT_RUNS = 3
#: The shortest id prefix accepted to name a task: shorter ones collide too easily.
MIN_ID_PREFIX = 4
#: A step that changes things (a cleanup statement, a script) is not assumed safe to repeat:
#: retrying a step within its run is opted into per step.
STEP_RETRY_MAX = 0
#: Long enough for a locked table or a busy service to free up, short for a run that waits.
STEP_RETRY_DELAY_SECONDS = 10.0
#: Output a step keeps per stream: enough for the end of a traceback or a log, small enough
#: for runs.jsonl; the bytes before the kept tail are counted, not kept.
STEP_OUTPUT_CAP_BYTES = 64 * 1024
#: Output lines a step's record and {steps.<id>.output} keep: the end of a log, not all of it.
STEP_OUTPUT_LINES = 20
#: The exit codes a program step accepts unless it lists its own: 0, by convention success.
STEP_EXIT_CODES = (0,)
#: PowerShell 7 on Linux; -NoProfile -NonInteractive are always added.
POWERSHELL = "pwsh"

#: Days a run stays in the history (``HISTORY_KEEP_DAYS``): runs.jsonl and, in cluster
#: mode, the cluster's tables drop runs that began longer ago.
HISTORY_KEEP_DAYS = 90

#: Rows a result must pass before its writers may go to a second process
#: (``EXPORT_SECOND_PROCESS_ROWS``): the process costs ~0.3 s of CPU to start and a pickle
#: of every row, so below ~100,000 rows a run finished sooner without it (measured in
#: docs/performance.md, "When the second process pays").
SECOND_PROCESS_ROWS = 100_000
