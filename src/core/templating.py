"""Templates for subjects, bodies and file names: ``{task_name}``, ``{run_date:%Y-%m-%d}``.

Only plain names are allowed: ``{a.b}`` and ``{a[0]}`` are refused, so a template
typed into tasks.json can never reach into Python objects. The one dotted form is an
earlier step's result, ``{steps.<id>.<field>}``: it is looked up whole, as a flat name
among the values given, never as an attribute. An unknown name is an error that lists
the known ones.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from src.core.errors import ValidationError
from src.core.runvars import RUN_VARIABLES, run_variables
from src.core.steps import STEP_REFERENCE

#: Names every template may use (values supplied at run time).
TEMPLATE_VARIABLES = (*RUN_VARIABLES, "task_name", "row_count", "duration", "run_id")


class _FlatFormatter(string.Formatter):
    """Looks a field's whole name up in the values: ``{steps.a.row_count}`` is one key,
    never ``values["steps"].a.row_count``."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        return kwargs[field_name], field_name


_FORMATTER = _FlatFormatter()


def template_fields(template: str, field: str = "template") -> list[str]:
    """The names a template uses; raises ValidationError on bad syntax or attribute access."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ValidationError(
            field, f"bad template {template!r}: {exc}; write literal braces as {{{{ and }}}}"
        ) from None
    names = []
    for _literal, name, _spec, _conversion in parsed:
        if name is None:
            continue
        if name == "" or not (name.isidentifier() or STEP_REFERENCE.fullmatch(name)):
            raise ValidationError(
                field,
                f"bad placeholder {{{name}}} in {template!r}; use a plain name such as "
                "{task_name}",
            )
        names.append(name)
    return names


@lru_cache(maxsize=1)
def _sample_values() -> dict[str, Any]:
    """A value of the run-time type of each variable (the runner and the mailer pass
    ``row_count`` as a number and ``duration`` as text)."""
    values: dict[str, Any] = dict(run_variables(datetime(2000, 1, 2, tzinfo=UTC), ZoneInfo("UTC")))
    values.update(task_name="", row_count=0, duration="", run_id="")
    return values


def check_template(template: str, field: str, allowed: Iterable[str] = TEMPLATE_VARIABLES) -> None:
    """Validate a template at save time: syntax, names, and formats that fit their value
    (``{row_count:%Y}`` would fail every run, so it fails here, in the same words)."""
    problem = _template_problem(template, tuple(allowed))
    if problem is not None:
        raise ValidationError(field, problem)


@lru_cache(maxsize=4096)
def _template_problem(template: str, known: tuple[str, ...]) -> str | None:
    """What is wrong with ``template``, or None; cached: a tasks file repeats the same few
    subjects and bodies thousands of times, and a trial render is the costly part."""
    try:
        names = template_fields(template)
        for name in names:
            if name not in known:
                raise _unknown(name, template, known, "template")
        samples = _sample_values()
        if all(name in samples for name in names):
            render(template, samples)
    except ValidationError as exc:
        return exc.message
    return None


def render(template: str, values: Mapping[str, Any], field: str = "template") -> str:
    """Render a template with ``values``; format specs apply (``{run_date:%d.%m.%Y}``)."""
    for name in template_fields(template, field):
        if name not in values:
            # listed in the order check_template lists them: the same message at save time
            known = [k for k in TEMPLATE_VARIABLES if k in values]
            raise _unknown(name, template, known + [k for k in values if k not in known], field)
    try:
        return _FORMATTER.vformat(template, (), dict(values))
    except (ValueError, TypeError) as exc:
        raise ValidationError(field, f"cannot render {template!r}: {exc}") from None


def _unknown(name: str, template: str, known: Iterable[str], field: str) -> ValidationError:
    return ValidationError(
        field,
        f"unknown placeholder {{{name}}} in {template!r}; known: "
        + ", ".join("{" + k + "}" for k in known),
    )
