"""Templates for subjects, bodies and file names: ``{task_name}``, ``{run_date:%Y-%m-%d}``.

Only plain names are allowed: ``{a.b}`` and ``{a[0]}`` are refused, so a template
typed into tasks.json can never reach into Python objects. An unknown name is an
error that lists the known ones.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any

from src.core.errors import ValidationError
from src.core.runvars import RUN_VARIABLES

#: Names every template may use (values supplied at run time).
TEMPLATE_VARIABLES = (*RUN_VARIABLES, "task_name", "row_count", "duration", "run_id")

_FORMATTER = string.Formatter()


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
        if name == "" or not name.isidentifier():
            raise ValidationError(
                field,
                f"bad placeholder {{{name}}} in {template!r}; use a plain name such as "
                "{task_name}",
            )
        names.append(name)
    return names


def check_template(template: str, field: str, allowed: Iterable[str] = TEMPLATE_VARIABLES) -> None:
    """Validate a template at save time: syntax and names."""
    known = list(allowed)
    for name in template_fields(template, field):
        if name not in known:
            raise ValidationError(
                field,
                f"unknown placeholder {{{name}}} in {template!r}; known: "
                + ", ".join("{" + k + "}" for k in known),
            )


def render(template: str, values: Mapping[str, Any], field: str = "template") -> str:
    """Render a template with ``values``; format specs apply (``{run_date:%d.%m.%Y}``)."""
    for name in template_fields(template, field):
        if name not in values:
            raise ValidationError(
                field,
                f"unknown placeholder {{{name}}} in {template!r}; known: "
                + ", ".join("{" + k + "}" for k in values),
            )
    try:
        return _FORMATTER.vformat(template, (), dict(values))
    except (ValueError, TypeError) as exc:
        raise ValidationError(field, f"cannot render {template!r}: {exc}") from None
