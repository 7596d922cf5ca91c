"""Commented sample definitions, one per step kind: `manage_tasks.py samples [KIND]`.

Each is a whole file that `manage_tasks.py import` takes as is (a test imports each).
"""

from __future__ import annotations

from src.core.vocabulary import StepKind

_HEAD = """\
# A sample task with {what}.
# Import it with: manage_tasks.py samples {kind} > {kind}.yaml && manage_tasks.py import {kind}.yaml
version: 2
tasks:
"""

SAMPLES: dict[StepKind, str] = {
    StepKind.SQL: """\
  - name: Sample sql steps
    schedule: {cron: "0 6 * * *"}      # 06:00 every day, in the task's zone
    timezone: Europe/Berlin
    connection: DATABASE_URL          # the default connection of its sql steps
    timeout_seconds: 300              # the whole run's limit; a step may set a lower one
    steps:
      - id: cleanup                   # later steps write {steps.cleanup.rows_affected}
        name: Delete year-old log lines
        kind: sql
        query: DELETE FROM app_log WHERE logged_at < :today - 365
        read_only: false              # steps are read-only unless they say so
      - id: extract
        kind: sql
        query: SELECT region, SUM(total) AS revenue FROM sales GROUP BY region
        exports: {xlsx: true, csv: true}   # a report step: today's query -> files
        on_failure: continue          # later steps run even if this one fails
""",
    StepKind.COMMAND: """\
  - name: Sample command step
    schedule: {interval: 6h}
    steps:
      - id: archive
        kind: command
        # an argument list: no shell reads it; {step_dir} is this step's folder, whose
        # files become the step's files
        command: [tar, czf, "{step_dir}/logs.tgz", /var/log/myapp]
        cwd: /var/log                 # default: the step's folder
        env: {TZ: UTC}                # added to the environment
        exit_codes: [0, 1]            # tar exits 1 when a file changed while read
        timeout_seconds: 120
        retry: {max_retries: 1, delay_seconds: 30}
      - id: count
        kind: command
        shell: true                   # one string for /bin/sh; values put in are quoted
        command: "ls -l {step_dir}/.. | wc -l"
""",
    StepKind.PYTHON: """\
  - name: Sample python step
    schedule: null                    # runs only by webhook or `manage_tasks.py run`
    steps:
      - id: script
        kind: python
        script: scripts/process.py    # relative to the folder of tasks.json
        args: ["--date", "{today}", "--out", "{step_dir}/result.csv"]
        # interpreter: /opt/venvs/etl/bin/python   # default: db-scheduler's own python
        pass_env: [DB_SALES_URL]      # the product's secrets are left out unless named
""",
    StepKind.POWERSHELL: """\
  - name: Sample powershell step
    schedule: {cron: "0 */6 * * *", }
    timezone: UTC
    steps:
      - id: health
        kind: powershell              # run by pwsh -NoProfile -NonInteractive
        inline: |
          Get-Process | Sort-Object CPU -Descending | Select-Object -First 10
          Write-Output "checked at $(Get-Date -Format o)"
        # or: script: scripts/health.ps1, with args: ["-LogLevel", "Info"]
""",
    StepKind.EMAIL: """\
  - name: Sample email step
    schedule: {cron: "30 7 * * mon-fri"}
    timezone: Europe/Berlin
    steps:
      - id: extract
        kind: sql
        query: SELECT * FROM orders WHERE order_date = :yesterday
        exports: {xlsx: true}
      - id: mail
        kind: email
        attach: [extract]             # the files of these earlier steps
        to: [sales@example.com]
        subject: "Orders of {yesterday}: {steps.extract.row_count}"
        body: "{steps.extract.row_count} orders; the file is attached."
        send_if: rows                 # only when extract returned rows
""",
}

_WHAT = {
    StepKind.SQL: "sql steps: a cleanup statement, then a report",
    StepKind.COMMAND: "command steps: an argument list, then a shell line",
    StepKind.PYTHON: "a python step",
    StepKind.POWERSHELL: "a powershell step (needs pwsh, PowerShell 7)",
    StepKind.EMAIL: "an email step sending the file of an sql step",
}


def sample(kind: StepKind) -> str:
    return _HEAD.format(what=_WHAT[kind], kind=kind.value) + SAMPLES[kind]
