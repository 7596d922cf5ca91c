"""The earlier systems' jobs as task definitions, with what could not be carried over.

* V1 (``jobs/job_config.yaml``): jobs of type sql, powershell, python and command, each
  with an APScheduler schedule (``cron_params`` / ``interval_params``), ``timeout``,
  ``max_retries``, ``retry_delay`` and ``notifications``; each becomes a task of one
  step, plus an email step for ``notifications.on_success`` addresses.
* V2 YAML job files (``PS-001``, ``SQL-001``): ``inlineScript`` / ``scriptPath``,
  ``retryPolicy``, ``schedule.expression`` with its ``timezone``, ``parameters``,
  ``metadata``.
* V2 JSON multi-step jobs: ``steps`` of type sql and powershell, ``max_retries``,
  ``timeout_seconds``, ``timezone``.

Nothing is dropped silently: what has no equivalent here (a Windows path, a Windows
login, ``run_as``, an execution policy, a failure notification, an unknown step type) is
a note on its job's :class:`JobReport`; a SQL Server-only statement is kept, and flagged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.core.errors import DefinitionError, ValidationError
from src.core.legacy import aps_schedule
from src.core.vocabulary import ImportSource

#: Statements and functions only SQL Server runs (T-SQL): kept, and flagged.
_TSQL = re.compile(
    r"\b(GETDATE|DATEADD|DATEDIFF|ISNULL|NEWID|SYSDATETIME)\s*\(|\bTOP\s*\(?\d|\bEXEC(UTE)?\s"
    r"|\bDBCC\b|\bUPDATE\s+STATISTICS\b|\bsys\.\w+|\bWITH\s*\(\s*NOLOCK|\bdbo\.|^\s*GO\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_WRITES = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|DROP|ALTER|CREATE|EXEC|EXECUTE|DBCC)\b",
    re.IGNORECASE | re.MULTILINE,
)
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]|^\\\\|\\[^\\]")
#: V2's templates: ``{{today}}`` is this tool's ``{today}``.
_V2_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")


@dataclass
class JobReport:
    """One job of an earlier system: what was not carried over, or why it was not imported."""

    job: str
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_windows_path(text: Any) -> bool:
    return isinstance(text, str) and bool(_WINDOWS_PATH.search(text))


def _flag_sql(sql: str, report: JobReport, where: str) -> None:
    found = sorted({m.group(0).strip().rstrip("(").upper() for m in _TSQL.finditer(sql)})
    if found:
        report.notes.append(
            f"{where}: kept but flagged: SQL Server-only syntax ({', '.join(found)}); it runs "
            "only on a SQL Server connection (mssql+pyodbc) and must be rewritten for another"
        )


def _windows(value: Any, report: JobReport, what: str) -> bool:
    """Whether ``value`` is a Windows path (then noted: it cannot work on this machine)."""
    if is_windows_path(value):
        report.notes.append(f"{what} {value!r} is a Windows path: not carried over")
        return True
    return False


def _sql_step(
    step_id: str, name: str, query: Any, connection: str | None, report: JobReport, where: str
) -> dict[str, Any]:
    sql = str(query or "")
    _flag_sql(sql, report, where)
    step: dict[str, Any] = {"id": step_id, "name": name, "kind": "sql", "query": sql}
    if connection:
        step["connection"] = connection
    if _WRITES.search(sql):
        step["read_only"] = False
        report.notes.append(
            f"{where}: the SQL changes data, as the earlier system ran it: read_only is set to "
            "false for this step"
        )
    return step


def _connection_name(value: Any, report: JobReport) -> str | None:
    """A connection name (its DB_<NAME>_URL goes in .env); inline servers are noted."""
    if isinstance(value, str):
        return None if value in ("", "default") else value
    if not isinstance(value, Mapping):
        return None
    name = value.get("connection_id") or value.get("database")
    inline = {k: v for k, v in value.items() if k != "connection_id"}
    if inline:
        shown = ", ".join(f"{k}={v}" for k, v in inline.items())
        variable = f"DB_{re.sub(r'[^A-Za-z0-9]+', '_', str(name or 'main')).upper()}_URL"
        report.notes.append(
            f"inline connection ({shown}) not carried over (a Windows login cannot be used "
            f"here): put {variable}=mssql+pyodbc://... in .env"
        )
    return str(name) if name else None


def _schedule(kind: Any, params: Any, report: JobReport) -> tuple[Any, str | None]:
    """A V1 schedule (APScheduler type and params) and its timezone."""
    config = dict(params) if isinstance(params, Mapping) else {}
    zone = config.pop("timezone", None)
    try:
        return aps_schedule("once" if kind == "date" else kind, config), zone
    except ValidationError as exc:
        report.errors.append(f"schedule: {exc.message}")
        return None, zone


# --- V1: jobs/job_config.yaml ------------------------------------------------------------


def _v1_job(job: Mapping[str, Any], report: JobReport) -> dict[str, Any] | None:
    kind = str(job.get("type") or "").lower()
    name = str(job.get("name") or job.get("id") or "")
    task: dict[str, Any] = {
        "id": job.get("id"),
        "name": name,
        "description": str(job.get("description") or ""),
        "enabled": bool(job.get("enabled", True)),
    }
    schedule = _mapping(job.get("schedule"))
    params = schedule.get("cron_params") or schedule.get("interval_params") or {}
    task["schedule"], zone = _schedule(schedule.get("type"), params, report)
    if zone:
        task["timezone"] = zone
    if job.get("timeout"):
        task["timeout_seconds"] = job["timeout"]
    if job.get("max_retries") is not None:
        task["retry"] = {"max_retries": job["max_retries"]}
        if job.get("retry_delay") is not None:
            task["retry"]["delay_seconds"] = job["retry_delay"]
    step: dict[str, Any] = {"id": kind or "step", "name": name}
    cwd = job.get("working_directory")
    if kind == "sql":
        connection = _connection_name(job.get("connection"), report)
        step = _sql_step("sql", name, job.get("query"), connection, report, "query")
        output = str(job.get("output_format") or "").lower()
        formats = {"csv": "csv", "excel": "xlsx", "xlsx": "xlsx", "pdf": "pdf"}
        if output in formats:
            step["exports"] = {formats[output]: True}
        elif output:
            report.notes.append(f"output_format {output!r} not carried over (csv, xlsx, pdf are)")
        if job.get("output_path"):
            report.notes.append(
                f"output_path {job['output_path']!r} not carried over: files are written to the "
                "run's folder under EXPORTS_DIR (an email step can send them)"
            )
    elif kind == "powershell":
        step["kind"] = "powershell"
        if job.get("script_content"):
            step["inline"] = str(job["script_content"])
            if job.get("script_path"):
                report.notes.append(
                    f"script_path {job['script_path']!r} not carried over: script_content is used"
                )
        elif not _windows(job.get("script_path"), report, "script_path"):
            step["script"] = job.get("script_path")
        if is_windows_path(step.get("inline")):
            report.notes.append("the inline script names Windows paths: check it before it runs")
        step["args"] = [str(a) for a in job.get("parameters") or []]
        if job.get("execution_policy"):
            report.notes.append(
                f"execution_policy {job['execution_policy']!r} not carried over (pwsh on Linux "
                "does not enforce execution policies)"
            )
    elif kind == "python":
        step["kind"] = "python"
        script = job.get("script_path")
        step["script"] = script
        if is_windows_path(script):
            report.notes.append(
                f"script_path {script!r} is a Windows path: kept, so the step fails with a "
                "clear error until it is changed to this machine's path"
            )
        step["args"] = [str(a) for a in job.get("arguments") or []]
        for arg in step["args"]:
            if is_windows_path(arg):
                report.notes.append(f"argument {arg!r} is a Windows path: kept, check it")
        env = {str(k): str(v) for k, v in (job.get("environment") or {}).items()}
        for key in [k for k, v in env.items() if _windows(v, report, f"environment {k}")]:
            del env[key]
        if env:
            step["env"] = env
        if job.get("virtual_env"):
            report.notes.append(
                f"virtual_env {job['virtual_env']!r} not carried over: set the step's "
                "interpreter to that environment's python"
            )
    elif kind == "command":
        step["kind"] = "command"
        command = [str(job.get("command") or "")] + [str(a) for a in job.get("arguments") or []]
        step["command"] = command
        windows = [part for part in command if is_windows_path(part)]
        if windows:
            report.notes.append(
                f"the command names Windows paths ({', '.join(windows)}): kept, check it"
            )
    else:
        report.errors.append(
            f"type {job.get('type')!r} is not one of sql, powershell, python, command: not imported"
        )
        return None
    if cwd and kind != "sql" and not _windows(cwd, report, "working_directory"):
        step["cwd"] = cwd
    if job.get("run_as"):
        report.notes.append(
            f"run_as {job['run_as']!r} not carried over: steps run as the daemon's user"
        )
    task["steps"] = [step, *_notifications(job.get("notifications"), step["id"], report)]
    return task


def _notifications(raw: Any, step_id: str, report: JobReport) -> list[dict[str, Any]]:
    if not isinstance(raw, Mapping):
        return []
    steps = []
    for when, targets in raw.items():
        targets = targets if isinstance(targets, list) else []
        emails = [t["email"] for t in targets if isinstance(t, Mapping) and t.get("email")]
        others = [k for t in targets if isinstance(t, Mapping) for k in t if k != "email"]
        if when == "on_success" and emails:
            steps.append({"id": "notify", "kind": "email", "attach": [step_id], "to": emails})
        elif emails:
            report.notes.append(
                f"notifications.{when} to {', '.join(emails)} not carried over: a failed run "
                "is alerted by the daemon's NOTIFY_* settings, not per task"
            )
        for other in others:
            report.notes.append(f"notifications.{when} by {other} not carried over")
    return steps


# --- V2 YAML job files --------------------------------------------------------------------


def _v2_yaml_job(job: Mapping[str, Any], report: JobReport) -> dict[str, Any] | None:
    kind = str(job.get("type") or "").lower()
    name = str(job.get("name") or job.get("id") or "")
    task: dict[str, Any] = {
        "id": job.get("id"),
        "name": name,
        "enabled": bool(job.get("enabled", True)),
        "description": str(job.get("description") or ""),
    }
    schedule = _mapping(job.get("schedule"))
    if schedule.get("expression"):
        task["schedule"] = {"cron": str(schedule["expression"])}
    else:
        task["schedule"] = None
        report.notes.append("no schedule.expression: runs only by webhook or `run`")
    if schedule.get("timezone"):
        task["timezone"] = schedule["timezone"]
    if job.get("timeout"):
        task["timeout_seconds"] = job["timeout"]
    policy = job.get("retryPolicy")
    if isinstance(policy, Mapping):
        task["retry"] = {"max_retries": policy.get("maxRetries", 0)}
        if policy.get("retryDelay") is not None:
            task["retry"]["delay_seconds"] = policy["retryDelay"]
    metadata = job.get("metadata")
    if isinstance(metadata, Mapping) and metadata:
        shown = "; ".join(
            f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in metadata.items()
        )
        task["description"] = (task["description"] + "\n" if task["description"] else "") + shown
        report.notes.append(f"metadata ({shown}) is kept in the description")
    if kind == "powershell":
        step: dict[str, Any] = {"id": "script", "name": name, "kind": "powershell"}
        if job.get("inlineScript"):
            step["inline"] = str(job["inlineScript"])
        elif not _windows(job.get("scriptPath"), report, "scriptPath"):
            step["script"] = job.get("scriptPath")
        args = []
        for parameter in job.get("parameters") or []:
            if isinstance(parameter, Mapping) and parameter.get("name"):
                args += [f"-{parameter['name']}", str(parameter.get("value", ""))]
        step["args"] = args
        if job.get("executionPolicy"):
            report.notes.append(f"executionPolicy {job['executionPolicy']!r} not carried over")
    elif kind == "sql":
        connection = _connection_name(job.get("connection"), report)
        step = _sql_step("sql", name, job.get("query"), connection, report, "query")
    else:
        report.errors.append(f"type {job.get('type')!r} is not PowerShell or SQL: not imported")
        return None
    task["steps"] = [step]
    return task


# --- V2 JSON multi-step jobs --------------------------------------------------------------


def _v2_template(text: str) -> str:
    return _V2_TEMPLATE.sub(r"{\1}", text)


def _v2_json_job(job: Mapping[str, Any], report: JobReport) -> dict[str, Any] | None:
    name = str(job.get("name") or job.get("id") or "")
    task: dict[str, Any] = {
        "id": job.get("id"),
        "name": name,
        "description": str(job.get("description") or ""),
        "enabled": bool(job.get("enabled", True)),
    }
    if job.get("timezone"):
        task["timezone"] = job["timezone"]
    if job.get("timeout_seconds"):
        task["timeout_seconds"] = job["timeout_seconds"]
    if job.get("max_retries") is not None:
        task["retry"] = {"max_retries": job["max_retries"]}
    schedule = _mapping(job.get("schedule"))
    if schedule.get("expression"):
        task["schedule"] = {"cron": str(schedule["expression"])}
    else:
        task["schedule"] = None
        report.notes.append("no schedule: runs only by webhook or `run`")
    steps = []
    for index, raw in enumerate(job.get("steps") or []):
        if not isinstance(raw, Mapping):
            report.errors.append(f"steps[{index}] is not an object")
            continue
        step_id = str(raw.get("id") or f"step{index + 1}")
        where = f"step {step_id!r}"
        kind = str(raw.get("type") or "").lower()
        step_name = str(raw.get("name") or step_id)
        if kind == "sql":
            connection = _connection_name(raw.get("connection_name"), report)
            step = _sql_step(step_id, step_name, raw.get("query"), connection, report, where)
        elif kind == "powershell":
            step = {"id": step_id, "name": step_name, "kind": "powershell"}
            script = raw.get("script_path") or raw.get("script")
            step["script"] = script
            if _windows(script, report, f"{where} script"):
                del step["script"]
            parameters = raw.get("parameters") or {}
            step["args"] = [
                part
                for key, value in (parameters.items() if isinstance(parameters, Mapping) else ())
                for part in (f"-{key}", _v2_template(str(value)))
            ]
        else:
            report.notes.append(
                f"{where} of type {raw.get('type')!r} not carried over (this tool runs sql, "
                "command, python, powershell and email steps); the other steps were imported"
            )
            continue
        if raw.get("timeout"):
            step["timeout_seconds"] = raw["timeout"]
        steps.append(step)
    if not steps:
        report.errors.append("no step could be carried over: not imported")
        return None
    task["steps"] = steps
    return task


_CONVERTERS = {
    ImportSource.V1: _v1_job,
    ImportSource.V2_YAML: _v2_yaml_job,
    ImportSource.V2_JSON: _v2_json_job,
}


def convert_earlier(
    source: ImportSource, documents: list[Any], name: str
) -> tuple[list[dict[str, Any]], list[JobReport]]:
    """The definitions of the jobs in ``documents`` and, per job, its report."""
    jobs: list[Any] = []
    for document in documents:
        if source is ImportSource.V1:
            if not isinstance(document, Mapping) or not isinstance(document.get("jobs"), list):
                raise DefinitionError(f"{name}: a V1 file has a jobs: list; nothing was imported")
            jobs += document["jobs"]
        else:
            jobs += document if isinstance(document, list) else [document]
    items, reports = [], []
    for index, job in enumerate(jobs):
        label = (
            str(job.get("name") or job.get("id") or f"#{index + 1}")
            if isinstance(job, Mapping)
            else f"#{index + 1}"
        )
        report = JobReport(label)
        reports.append(report)
        if not isinstance(job, Mapping):
            report.errors.append("not an object: not imported")
            continue
        item = _CONVERTERS[source](job, report)
        if item is not None and not report.errors:
            items.append(item)
    return items, reports
