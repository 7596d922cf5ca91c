"""Reading a task's ``steps``: every step checked, every problem collected with its path.

Called by :class:`~src.core.task_reader.TaskReader` (so ``Task.from_dict``, ``add``,
``edit``, ``import``, the store and the daemon's reload all check steps the same way).
Each message says what is wrong, where (``steps[2].command``), and how to fix it.
Templates in a step may use the run's names, ``{step_dir}``, ``{run_dir}`` and the
results of the steps before it (``{steps.<id>.<field>}``); a reference to a later or
unknown step is refused here, not at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from src.core import defaults
from src.core.connection_names import check_connection
from src.core.errors import ValidationError, suggest_field
from src.core.steps import (
    STEP_ID,
    STEP_PLACES,
    STEP_REFERENCE,
    STEP_TYPES,
    Step,
    StepRetry,
    references_to,
)
from src.core.templating import TEMPLATE_VARIABLES, check_template, template_fields
from src.core.vocabulary import OnFailure, StepKind, StepResultField

if TYPE_CHECKING:
    from src.core.task_reader import TaskReader

_COMMON = ("id", "name", "kind", "timeout_seconds", "retry", "on_failure")
_PROCESS = ("cwd", "env", "pass_env", "exit_codes")
#: The fields each kind reads besides the common ones; others are kept (validate warns).
KIND_FIELDS: dict[StepKind, tuple[str, ...]] = {
    StepKind.SQL: ("query", "query_file", "connection", "params", "read_only", "exports"),
    StepKind.COMMAND: ("command", "shell", *_PROCESS),
    StepKind.PYTHON: ("script", "args", "interpreter", *_PROCESS),
    StepKind.POWERSHELL: ("script", "inline", "args", *_PROCESS),
    StepKind.EMAIL: ("attach", "to", "cc", "bcc", "subject", "body", "send_if"),
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMAND_SHAPE = '["tar", "czf", "{step_dir}/backup.tgz", "/srv/data"]'


class StepReader:
    """Reads the ``steps`` list of one task into Step objects, reporting through the
    task's reader (its ``fail`` / ``attempt`` and its email and export checks)."""

    def __init__(self, reader: TaskReader, task_timeout: float) -> None:
        self.reader = reader
        self.task_timeout = task_timeout
        self.earlier: Sequence[str] = ()  # the ids of the steps before the one being read

    def read(self, raw: Any) -> tuple[Step, ...]:
        fail = self.reader.fail
        if not isinstance(raw, list) or not raw:
            fail(
                "steps",
                f"{raw!r} is not a list of steps; give at least one step such as "
                '{"id": "extract", "kind": "sql", "query": "SELECT ..."}, '
                "or remove steps and give query",
            )
            return ()
        steps: list[Step] = []
        seen: list[str] = []
        for index, item in enumerate(raw):
            where = f"steps[{index}]"
            step = self._step(item, where, seen)
            step_id = item.get("id") if isinstance(item, Mapping) else None
            if isinstance(step_id, str) and STEP_ID.fullmatch(step_id):
                if step_id in seen:
                    fail(
                        f"{where}.id",
                        f"{step_id!r} is also the id of an earlier step; "
                        "step ids are unique in a task",
                    )
                seen.append(step_id)
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def template(self, text: str, where: str, names: tuple[str, ...]) -> None:
        """Check a template of a step; a step reference that is not an earlier step's
        result gets a message that says which steps and fields there are."""
        try:
            fields = template_fields(text, where)
        except ValidationError as exc:
            self.reader.fail(exc.field, exc.message)
            return
        for name in fields:
            match = STEP_REFERENCE.fullmatch(name)
            if match is None or name in names:
                continue
            step_id, result = match.groups()
            earlier = sorted({n.split(".")[1] for n in names if n.startswith("steps.")})
            if result not in StepResultField.values():
                why = (
                    f"{result!r}{suggest_field(result, StepResultField.values())} is not a "
                    "step result; known: " + ", ".join(StepResultField.values())
                )
            else:
                why = f"{step_id!r} is not a step before this one (" + (
                    f"those are: {', '.join(earlier)})" if earlier else "there is none)"
                )
            self.reader.fail(where, f"{{{name}}} in {text!r}: {why}")
            return
        self.reader.attempt(check_template, text, where, names)

    # -- one step --------------------------------------------------------------------------

    def _step(self, item: Any, where: str, earlier: Sequence[str]) -> Step | None:
        fail = self.reader.fail
        if not isinstance(item, Mapping):
            fail(where, f'{item!r} is not a step object like {{"id": "x", "kind": "sql"}}')
            return None
        ok = True
        step_id = item.get("id")
        if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
            fail(
                f"{where}.id",
                f"{step_id!r} is not a step id: give a word of letters, digits, _ or - "
                "(starting with a letter), such as 'extract'; later steps name it in "
                "{steps.extract.row_count} and attach",
            )
            ok = False
        name = item.get("name", step_id)
        if not isinstance(name, str) or not name.strip() or "\n" in name:
            fail(f"{where}.name", f"{name!r} is not a step name (one line of text)")
            ok = False
        if (kind := item.get("kind")) not in StepKind.values():
            fail(
                f"{where}.kind",
                f"{kind!r}{suggest_field(str(kind), StepKind.values())} is not a step kind; "
                "known: " + ", ".join(StepKind.values()),
            )
            return None
        kind = StepKind(kind)
        common: dict[str, Any] = {
            "id": step_id if ok else "",
            "name": (name.strip() if isinstance(name, str) else ""),
            "timeout_seconds": self._timeout(item, where),
            "retry": self._retry(item, where, kind),
            "on_failure": self._on_failure(item, where),
            "extra": {
                k: v for k, v in item.items() if k not in _COMMON and k not in KIND_FIELDS[kind]
            },
        }
        names = (*TEMPLATE_VARIABLES, *STEP_PLACES, *references_to(earlier))
        self.earlier = earlier
        fields = getattr(self, f"_{kind.value}")(item, where, names)  # _sql, _command, ...
        if fields is None or not ok:
            return None
        return STEP_TYPES[kind](**common, **fields)

    def _timeout(self, item: Mapping[str, Any], where: str) -> float | None:
        value = item.get("timeout_seconds")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
            self.reader.fail(f"{where}.timeout_seconds", f"{value!r} is not a number of at least 1")
            return None
        if value > self.task_timeout:
            self.reader.fail(
                f"{where}.timeout_seconds",
                f"{value:g} is more than the task's timeout_seconds {self.task_timeout:g}, "
                "which stops the whole run first; lower it, or raise the task's",
            )
            return None
        return float(value)

    def _retry(self, item: Mapping[str, Any], where: str, kind: StepKind) -> StepRetry:
        raw = item.get("retry")
        if raw is None:
            return StepRetry()
        fail = self.reader.fail
        if not isinstance(raw, Mapping):
            fail(f"{where}.retry", f'{raw!r} is not an object like {{"max_retries": 1}}')
            return StepRetry()
        tries = raw.get("max_retries", defaults.STEP_RETRY_MAX)
        if isinstance(tries, bool) or not isinstance(tries, int) or tries < 0:
            fail(f"{where}.retry.max_retries", f"{tries!r} is not a whole number of at least 0")
            tries = defaults.STEP_RETRY_MAX
        delay = raw.get("delay_seconds", defaults.STEP_RETRY_DELAY_SECONDS)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            fail(f"{where}.retry.delay_seconds", f"{delay!r} is not a number of at least 0")
            delay = defaults.STEP_RETRY_DELAY_SECONDS
        if kind is StepKind.EMAIL and tries:
            fail(
                f"{where}.retry.max_retries",
                "an email step is not tried again within its run: a message that may have "
                "gone out is never sent twice (SMTP_RETRIES retries a send the server "
                "refused for now); remove retry",
            )
        return StepRetry(max_retries=tries, delay_seconds=float(delay))

    def _on_failure(self, item: Mapping[str, Any], where: str) -> OnFailure:
        value = item.get("on_failure", OnFailure.STOP)
        if value not in OnFailure.values():
            self.reader.fail(
                f"{where}.on_failure",
                f"{value!r}{suggest_field(str(value), OnFailure.values())} is not one of "
                + ", ".join(OnFailure.values()),
            )
            return OnFailure.STOP
        return OnFailure(value)

    # -- the kinds -------------------------------------------------------------------------

    def _sql(self, item: Mapping[str, Any], where: str, names: tuple[str, ...]) -> Any:
        fail = self.reader.fail
        query, query_file = item.get("query"), item.get("query_file")
        if query_file is not None:
            if query:
                fail(f"{where}.query", "give either query or query_file, not both")
            if not isinstance(query_file, str) or not query_file.strip():
                fail(f"{where}.query_file", f"{query_file!r} is not a file path")
        elif not isinstance(query, str) or not query.strip():
            fail(f"{where}.query", "the SQL is empty; give the query or statement (or query_file)")
        connection = item.get("connection")
        if connection is not None:
            connection = self.reader.attempt(check_connection, connection, allow_password=True)
        params = item.get("params") or {}
        if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
            fail(f"{where}.params", f"{params!r} is not an object of name: value bind parameters")
            params = {}
        for key, value in params.items():
            if not isinstance(value, str) or "{steps." not in value:
                continue  # a literal value, bound as it is
            if not (value.startswith("{") and value.endswith("}")) or not STEP_REFERENCE.fullmatch(
                value[1:-1]
            ):
                fail(
                    f"{where}.params.{key}",
                    f"{value!r}: a parameter is bound to an earlier step's result when its "
                    "value is exactly {steps.<id>.<field>}, such as "
                    "'{steps.cleanup.rows_affected}'",
                )
            else:
                self.template(value, f"{where}.params.{key}", names)
        read_only = item.get("read_only")
        if read_only is not None and not isinstance(read_only, bool):
            fail(f"{where}.read_only", f"{read_only!r} is not true or false")
            read_only = None
        exports: dict[str, dict[str, Any]] = {}
        if item.get("exports") is not None:
            exports = self.reader.exports_from(item["exports"], f"{where}.exports")
        return {
            "query": query if query_file is None and isinstance(query, str) else None,
            "query_file": query_file if isinstance(query_file, str) else None,
            "connection": connection,
            "params": dict(params),
            "read_only": read_only,
            "exports": exports,
        }

    def _process(self, item: Mapping[str, Any], where: str, names: tuple[str, ...]) -> Any:
        fail = self.reader.fail
        cwd = item.get("cwd")
        if cwd is not None:
            if not isinstance(cwd, str) or not cwd.strip():
                fail(f"{where}.cwd", f"{cwd!r} is not a folder path")
                cwd = None
            else:
                self.template(cwd, f"{where}.cwd", names)
        env = item.get("env") or {}
        if not isinstance(env, Mapping):
            fail(f"{where}.env", f'{env!r} is not an object like {{"LANG": "C.UTF-8"}}')
            env = {}
        for key, value in env.items():
            if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
                fail(f"{where}.env", f"{key!r} is not an environment variable name")
            elif not isinstance(value, str):
                fail(f"{where}.env.{key}", f"{value!r} is not text (write numbers in quotes)")
            else:
                self.template(value, f"{where}.env.{key}", names)
        pass_env = item.get("pass_env") or []
        if not isinstance(pass_env, list) or not all(
            isinstance(n, str) and _ENV_NAME.fullmatch(n) for n in pass_env
        ):
            fail(
                f"{where}.pass_env",
                f"{pass_env!r} is not a list of variable names such as ['DB_SALES_URL']",
            )
            pass_env = []
        codes = item.get("exit_codes", list(defaults.STEP_EXIT_CODES))
        if (
            not isinstance(codes, list)
            or not codes
            or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in codes
            )
        ):
            fail(
                f"{where}.exit_codes", f"{codes!r} is not a list of exit codes (0-255) like [0, 1]"
            )
            codes = list(defaults.STEP_EXIT_CODES)
        return {
            "cwd": cwd,
            "env": {str(k): str(v) for k, v in env.items()},
            "pass_env": tuple(pass_env),
            "exit_codes": tuple(codes),
        }

    def _texts(self, item: Mapping[str, Any], key: str, where: str, names: tuple[str, ...]) -> Any:
        """A list of texts (arguments), each a template; None when it is not one."""
        value = item.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            self.reader.fail(f"{where}.{key}", f"{value!r} is not a list of arguments (texts)")
            return None
        texts = [str(v) for v in value]
        for index, text in enumerate(texts):
            self.template(text, f"{where}.{key}[{index}]", names)
        return tuple(texts)

    def _command(self, item: Mapping[str, Any], where: str, names: tuple[str, ...]) -> Any:
        fail = self.reader.fail
        shell = item.get("shell", False)
        if not isinstance(shell, bool):
            fail(f"{where}.shell", f"{shell!r} is not true or false")
            shell = False
        command = item.get("command")
        fields = self._process(item, where, names)
        if shell:
            if not isinstance(command, str) or not command.strip():
                fail(
                    f"{where}.command",
                    "with shell: true give the command as one string, such as "
                    "'gzip -c {steps.extract.files} > {step_dir}/out.gz'",
                )
                return None
            self.template(command, f"{where}.command", names)
            return {"command": command, "shell": True, **fields}
        if isinstance(command, str):
            fail(
                f"{where}.command",
                f"{command!r} is one string, which only a shell would split: give a list of "
                f"arguments like {_COMMAND_SHAPE}, or add shell: true",
            )
            return None
        if not isinstance(command, list) or not command:
            fail(f"{where}.command", f"{command!r} is not an argument list like {_COMMAND_SHAPE}")
            return None
        argv = self._texts(item, "command", where, names)
        if argv is None:
            return None
        if not argv[0].strip():
            fail(f"{where}.command[0]", "the program to run is empty")
        return {"command": argv, "shell": False, **fields}

    def _python(self, item: Mapping[str, Any], where: str, names: tuple[str, ...]) -> Any:
        fail = self.reader.fail
        script = item.get("script")
        if not isinstance(script, str) or not script.strip():
            fail(f"{where}.script", f"{script!r} is not the path of a Python script")
        interpreter = item.get("interpreter")
        if interpreter is not None and (not isinstance(interpreter, str) or not interpreter):
            fail(f"{where}.interpreter", f"{interpreter!r} is not a program path")
            interpreter = None
        args = self._texts(item, "args", where, names)
        fields = self._process(item, where, names)
        if args is None or not isinstance(script, str):
            return None
        self.template(script, f"{where}.script", names)
        return {"script": script, "args": args, "interpreter": interpreter, **fields}

    def _powershell(self, item: Mapping[str, Any], where: str, names: tuple[str, ...]) -> Any:
        fail = self.reader.fail
        script, inline = item.get("script"), item.get("inline")
        if (script is None) == (inline is None):
            fail(
                f"{where}.script",
                "give either script (the path of a .ps1 file) or inline (the script's text)",
            )
            return None
        for key, value in (("script", script), ("inline", inline)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                fail(f"{where}.{key}", f"{value!r} is not text")
                return None
        args = self._texts(item, "args", where, names)
        fields = self._process(item, where, names)
        if args is None:
            return None
        return {"script": script, "inline": inline, "args": args, **fields}

    def _email(self, item: Mapping[str, Any], where: str, names: tuple[str, ...]) -> Any:
        fail, earlier = self.reader.fail, self.earlier
        attach = item.get("attach") or []
        if not isinstance(attach, list) or not all(isinstance(a, str) for a in attach):
            fail(f"{where}.attach", f"{attach!r} is not a list of step ids such as ['extract']")
            attach = []
        for index, step_id in enumerate(attach):
            if step_id not in earlier:
                fail(
                    f"{where}.attach[{index}]",
                    f"{step_id!r}{suggest_field(step_id, earlier)} is not the id of an earlier "
                    "step; an email step attaches the files of steps before it: "
                    + (", ".join(earlier) or "there are none"),
                )
        raw = {
            k: v for k, v in item.items() if k in ("to", "cc", "bcc", "subject", "body", "send_if")
        }
        email = self.reader.email_from(raw, where, names)
        if not email.recipients:
            fail(f"{where}.to", "an email step with no recipients sends nothing; give to")
        return {"attach": tuple(attach), "email": email}
