"""The report options of `add` and `edit`, read into tasks.json settings.

Each option names a column and what to set, in a form one can type in a shell:

==========================================  ==============================================
``--label revenue=Revenue``                 ``columns.revenue.label``
``--format revenue=currency:EUR:2``         format, then its arguments (below)
``--thousands revenue=off``                 ``columns.revenue.thousands`` (on / off)
``--total revenue=sum``                     ``columns.revenue.total`` (``none`` removes)
``--hide id`` / ``--show id``               ``columns.id.hidden`` true / removed
``--highlight 'margin<0=negative'``         a rule: column, operator, number, ``=``, style
``--chart bar:x=region:y=revenue,units``    the chart: type, then ``key=value`` parts
``--no-chart``                              no chart
``--locale de``                             ``locale``
==========================================  ==============================================

Formats and their arguments: ``integer``; ``number[:DECIMALS]``;
``currency:CODE[:DECIMALS]``; ``percent[:DECIMALS]``; ``date[:PATTERN]``,
``datetime[:PATTERN]`` (the pattern may hold ``:``, as in ``hh:mm``); ``text``;
``boolean:TRUE/FALSE`` (``boolean:paid/open``); ``none`` removes the format.

A form that cannot be read is a ValidationError naming the option, what was given and
the form it takes; what the settings then mean (an unknown currency, a pie of two
columns) is checked by the one task validator, in the words tasks.json gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from src.core.errors import ValidationError
from src.core.vocabulary import ChartType, Comparison, HighlightStyle, ValueFormat

#: Settings that belong to one format: changing the format clears those it does not give.
FORMAT_SETTINGS = ("format", "decimals", "currency", "pattern", "words")
#: The word that removes a setting (``--total revenue=none``).
NONE = "none"
#: A rule without its column: an operator, a number, ``=`` and a style (``<0=negative``).
_WHEN_STYLE = (
    r"(?P<op><=|>=|!=|<|>|=)\s*"
    r"(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*=\s*(?P<style>\S+)"
)
_RULE = re.compile(r"\s*(?P<column>[^<>=!]+?)\s*" + _WHEN_STYLE + r"\s*")
_COLUMN_RULE = re.compile(r"\s*" + _WHEN_STYLE + r"\s*")
#: What separates the rules of one column written on one line (the web form's box).
RULE_SEPARATOR = ";"

#: Column name -> the settings to change (None: remove the setting).
ColumnChanges = dict[str, dict[str, Any]]


def _pair(value: str, option: str, form: str) -> tuple[str, str]:
    column, sep, rest = value.partition("=")
    if not sep or not column.strip():
        raise ValidationError(option, f"{value!r} is not {form}")
    return column.strip(), rest.strip()


def _whole(text: str, option: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise ValidationError(option, f"{text!r} is not a whole number of {what}")
    return int(text)


def parse_format(value: str, option: str = "--format") -> tuple[str, dict[str, Any]]:
    """``revenue=currency:EUR:2`` -> ("revenue", {"format": "currency", "currency": "EUR",
    "decimals": 2, "pattern": None, "words": None})."""
    column, spec = _pair(value, option, "COLUMN=FORMAT, e.g. revenue=currency:EUR:2")
    kind, _, args = spec.partition(":")
    kind = kind.strip()
    settings: dict[str, Any] = dict.fromkeys(FORMAT_SETTINGS)
    if kind == NONE:
        return column, settings
    if kind not in ValueFormat.values():
        raise ValidationError(
            option,
            f"{kind!r} in {value!r} is not a format; known: {', '.join(ValueFormat.values())} "
            f"(or {NONE} to remove it)",
        )
    settings["format"] = kind
    parts = args.split(":") if args else []
    if kind in (ValueFormat.DATE, ValueFormat.DATETIME):
        if args:
            settings["pattern"] = args  # a pattern keeps its colons (hh:mm)
    elif kind == ValueFormat.CURRENCY:
        if not parts or len(parts) > 2:
            raise ValidationError(
                option, f"{value!r}: a currency takes its code and decimals: currency:EUR[:2]"
            )
        settings["currency"] = parts[0].strip().upper()
        if len(parts) == 2:
            settings["decimals"] = _whole(parts[1], option, "decimals")
    elif kind in (ValueFormat.NUMBER, ValueFormat.PERCENT):
        if len(parts) > 1:
            raise ValidationError(option, f"{value!r}: {kind} takes its decimals: {kind}[:2]")
        if parts:
            settings["decimals"] = _whole(parts[0], option, "decimals")
    elif kind == ValueFormat.BOOLEAN:
        words = args.split("/")
        if len(words) != 2 or not all(w.strip() for w in words):
            raise ValidationError(
                option, f"{value!r}: a boolean takes its two words: boolean:paid/open"
            )
        settings["words"] = [w.strip() for w in words]
    elif args:
        raise ValidationError(option, f"{value!r}: {kind} takes no arguments")
    return column, settings


def parse_rule(value: str, option: str = "--highlight") -> tuple[str, dict[str, str] | None]:
    """``margin<0=negative`` -> ("margin", {"when": "< 0", "style": "negative"});
    ``margin=none`` -> ("margin", None): the column's rules removed."""
    column, sep, rest = value.partition("=")
    if sep and rest.strip() == NONE and not re.search(r"[<>!]", column):
        return column.strip(), None
    match = _RULE.fullmatch(value)
    if match is None:
        raise ValidationError(
            option,
            f"{value!r} is not COLUMN, an operator, a number, = and a style, e.g. "
            f"'margin<0=negative' or 'revenue>=1000=strong' (operators: "
            f"{' '.join(Comparison.values())}; {NONE} removes a column's rules: margin={NONE})",
        )
    return match["column"], _rule_of(match)


def _rule_of(match: re.Match[str]) -> dict[str, str]:
    return {"when": f"{match['op']} {match['number']}", "style": match["style"]}


def parse_column_rules(text: str, field: str) -> list[dict[str, str]]:
    """One column's rules on one line, as ``--highlight`` writes them without the column:
    ``<0=negative; >=1000=strong`` -> the tasks.json list (``[]`` for empty text). What
    the rules then mean (an unknown style) is the task validator's to say."""
    rules = []
    for part in re.split(rf"[{RULE_SEPARATOR}\n]", text):
        if not part.strip():
            continue
        match = _COLUMN_RULE.fullmatch(part)
        if match is None:
            raise ValidationError(
                field,
                f"{part.strip()!r} is not an operator, a number, = and a style, e.g. "
                f"'<0=negative' or '>=1000=strong' (operators: {' '.join(Comparison.values())}; "
                f"styles: {', '.join(HighlightStyle.values())}); separate rules with "
                f"{RULE_SEPARATOR!r}",
            )
        rules.append(_rule_of(match))
    return rules


def column_rules_text(rules: Iterable[Mapping[str, Any]]) -> str:
    """A column's tasks.json rules on one line, as :func:`parse_column_rules` reads them:
    ``[{"when": "< 0", "style": "negative"}]`` -> ``<0=negative``."""
    return f"{RULE_SEPARATOR} ".join(
        f"{str(rule['when']).replace(' ', '')}={rule['style']}" for rule in rules
    )


def column_changes(
    labels: Iterable[str] = (),
    formats: Iterable[str] = (),
    thousands: Iterable[str] = (),
    totals: Iterable[str] = (),
    hide: Iterable[str] = (),
    show: Iterable[str] = (),
    highlights: Iterable[str] = (),
) -> ColumnChanges:
    """What the column options ask for, per column (None removes a setting). The rules
    given for a column replace its rules."""
    changes: ColumnChanges = {}

    def put(column: str, key: str, value: Any) -> None:
        changes.setdefault(column, {})[key] = value

    for value in labels:
        column, text = _pair(value, "--label", "COLUMN=LABEL, e.g. revenue=Revenue")
        put(column, "label", text or None)
    for value in formats:
        column, settings = parse_format(value)
        for key, setting in settings.items():
            put(column, key, setting)
    for value in thousands:
        column, word = _pair(value, "--thousands", "COLUMN=on or COLUMN=off")
        if word not in ("on", "off"):
            raise ValidationError("--thousands", f"{value!r} is not COLUMN=on or COLUMN=off")
        put(column, "thousands", None if word == "on" else False)
    for value in totals:
        column, kind = _pair(value, "--total", "COLUMN=TOTAL, e.g. revenue=sum")
        put(column, "total", None if kind == NONE else kind)
    for column in hide:
        put(column.strip(), "hidden", True)
    for column in show:
        put(column.strip(), "hidden", None)
    rules: dict[str, list[dict[str, str]]] = {}
    for value in highlights:
        column, rule = parse_rule(value)
        if rule is None:
            rules[column] = []
        else:
            rules.setdefault(column, []).append(rule)
    for column, listed in rules.items():
        put(column, "highlight", listed or None)
    return changes


def parse_chart(value: str, option: str = "--chart") -> dict[str, Any]:
    """``bar:x=region:y=revenue,units:title=Revenue by region`` -> the chart's settings
    given (``edit`` keeps the others). The title comes last and may hold ``:``."""
    text, _, title = value.partition(":title=")
    if value.startswith("title="):
        text, title = "", value[len("title=") :]
    out: dict[str, Any] = {}
    for n, part in enumerate(p for p in text.split(":") if p.strip()):
        key, sep, setting = part.partition("=")
        key = key.strip()
        if not sep and n == 0:
            if key not in ChartType.values():
                raise ValidationError(
                    option,
                    f"{key!r} is not a chart type; known: {', '.join(ChartType.values())} "
                    "(e.g. bar:x=region:y=revenue)",
                )
            out["type"] = key
        elif key in ("x", "y") and sep and setting.strip():
            out[key] = (
                setting.strip()
                if key == "x"
                else [c.strip() for c in setting.split(",") if c.strip()]
            )
        else:
            raise ValidationError(
                option,
                f"{part!r} in {value!r} is not TYPE or KEY=VALUE; the form is "
                "TYPE:x=COLUMN:y=COLUMN[,COLUMN...][:title=TEXT], e.g. "
                "bar:x=region:y=revenue,units:title=Revenue by region",
            )
    if title or value.endswith(":title="):
        out["title"] = title or None
    if not out:
        raise ValidationError(option, f"{value!r} gives no chart setting")
    return out
