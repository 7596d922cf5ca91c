"""Every option of every export format, declared once.

``exports.<format>`` in tasks.json is ``true``, ``false`` or an object of these
options. Each is declared here with its help line, its default, its checker and a
value the checker refuses (for tests). The task model checks a task's options
with :func:`export_option_errors` when the task is saved or loaded, and each
exporter calls :func:`check_export_options` when it opens a file: the same
checkers, the same defaults and the same messages (field ``exports.<format>.<name>``),
so a value ``validate`` accepts is one the run accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from src.core.errors import ValidationError, suggest_field
from src.core.templating import check_template

#: A checker takes the value and the field path; it returns the value to use or raises
#: ValidationError(field, message).
Checker = Callable[[Any, str], Any]


@dataclass(frozen=True)
class ExportOption:
    help: str
    default: Any
    check: Checker
    #: A value ``check`` refuses: the tests give it to validation and to the exporter.
    bad_sample: Any


# --------------------------------------------------------------------------- checkers


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, f"must be true or false, got {value!r}")
    return value


def _whole_number(minimum: int) -> Checker:
    def check(value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValidationError(field, f"must be a whole number >= {minimum:,}, got {value!r}")
        return value

    return check


def _choice(choices: Sequence[str | None]) -> Checker:
    shown = ", ".join("null" if c is None else c for c in choices)

    def check(value: Any, field: str) -> Any:
        if value not in choices:
            raise ValidationError(field, f"must be one of {shown}; got {value!r}")
        return value

    return check


def _text_or_null(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(field, f"must be text, got {value!r}")
    return value


def _filename(value: Any, field: str) -> str | None:
    """A file name template; null or empty means the EXPORT_FILENAME setting."""
    template = _text_or_null(value, field)
    if template:
        check_template(template, field)
    return template


def _delimiter(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in ('"', "\r", "\n"):
        raise ValidationError(
            field, f"must be one character other than a quote or line break, got {value!r}"
        )
    return value


#: Excel's limit on a sheet name, and the characters it refuses in one.
SHEET_NAME_MAX = 31
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")


def _sheet_name(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"must be text, got {value!r}")
    if not value or len(value) > SHEET_NAME_MAX:
        raise ValidationError(field, f"must be 1 to {SHEET_NAME_MAX} characters, got {value!r}")
    if _SHEET_NAME_BAD.search(value) or value.startswith("'") or value.endswith("'"):
        raise ValidationError(
            field,
            f"{value!r} has a character Excel refuses in sheet names: [ ] : * ? / \\, "
            "a control character, or a leading/trailing apostrophe",
        )
    if value.lower() == "history":
        raise ValidationError(field, "'History' is reserved by Excel")
    return value


def sheet_name_for(title: str) -> str:
    """A valid sheet name made from a task's name: the characters Excel refuses become
    spaces, runs of spaces one, apostrophes at either end go, cut to 31 characters;
    DEFAULT_SHEET_NAME if nothing is left, ``History 1`` for Excel's reserved name."""
    name = " ".join(_SHEET_NAME_BAD.sub(" ", title).split())
    name = name.strip("'").strip()[:SHEET_NAME_MAX].rstrip().rstrip("'").rstrip()
    if not name:
        return DEFAULT_SHEET_NAME
    return "History 1" if name.lower() == "history" else name


# --------------------------------------------------------------------------- declarations

#: The first sheet's name when neither the option nor the task's name gives one (a name
#: of only refused characters); further sheets are "Sheet 2", ...
DEFAULT_SHEET_NAME = "Sheet 1"
#: Rows a PDF draws at most: reportlab holds the whole document until it is saved,
#: and a PDF past a few thousand rows is not read anyway (xlsx/csv have them all).
DEFAULT_PDF_MAX_ROWS = 5000
PDF_ORIENTATIONS = ("auto", "portrait", "landscape")
#: Formats whose file holds every row, which a capped PDF can point to.
FULL_RESULT_FORMATS = ("xlsx", "csv")

_COMMON: dict[str, ExportOption] = {
    "enabled": ExportOption("write this file (default true)", True, _boolean, "yes"),
    "filename": ExportOption(
        "file name template without the extension (default the EXPORT_FILENAME setting)",
        None,
        _filename,
        "{nope}",
    ),
}

#: Format name (as in tasks.json) -> option name -> its declaration.
EXPORT_OPTIONS: dict[str, dict[str, ExportOption]] = {
    "xlsx": {
        **_COMMON,
        "sheet_name": ExportOption(
            "name of the first sheet (default the task's name, without the characters "
            "Excel refuses, cut to 31)",
            None,
            _sheet_name,
            "a/b",
        ),
    },
    "pdf": {
        **_COMMON,
        "max_rows": ExportOption(
            f"rows drawn at most (default {DEFAULT_PDF_MAX_ROWS}); the PDF says how many it shows",
            DEFAULT_PDF_MAX_ROWS,
            _whole_number(1),
            0,
        ),
        "title": ExportOption(
            "heading of the first page (default the task name)", None, _text_or_null, 5
        ),
        "orientation": ExportOption(
            "auto, portrait or landscape (default auto: landscape when the columns need it)",
            "auto",
            _choice(PDF_ORIENTATIONS),
            "sideways",
        ),
        "full_result_in": ExportOption(
            "xlsx or csv: the file of the same run that has every row (default: the run's "
            "xlsx or csv export, if any)",
            None,
            _choice((*FULL_RESULT_FORMATS, None)),
            "docx",
        ),
    },
    "csv": {
        **_COMMON,
        "bom": ExportOption(
            "start with a UTF-8 byte order mark, for Excel (default false)", False, _boolean, "yes"
        ),
        "delimiter": ExportOption(
            "field separator, one character (default ',')", ",", _delimiter, "ab"
        ),
        "formatted": ExportOption(
            "values as the report shows them (the columns' formats, the task's locale: "
            "'1.234,50 €') instead of machine-readable ones (default false)",
            False,
            _boolean,
            "yes",
        ),
    },
}


def export_option_errors(fmt: str, options: Mapping[str, Any]) -> list[ValidationError]:
    """Every problem with ``options`` of format ``fmt`` (an unknown name, a bad value)."""
    declared = EXPORT_OPTIONS[fmt]
    errors = []
    for name, value in options.items():
        field = f"exports.{fmt}.{name}"
        option = declared.get(name)
        if option is None:
            errors.append(
                ValidationError(
                    field,
                    f"unknown {fmt} option {name!r}{suggest_field(name, declared)}; known: "
                    + ", ".join(declared),
                )
            )
            continue
        try:
            option.check(value, field)
        except ValidationError as exc:
            errors.append(exc)
    return errors


def check_export_options(fmt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked, with every declared option's default filled in.

    Raises the first problem :func:`export_option_errors` finds.
    """
    errors = export_option_errors(fmt, options)
    if errors:
        raise errors[0]
    return {name: options.get(name, option.default) for name, option in EXPORT_OPTIONS[fmt].items()}
