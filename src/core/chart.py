"""A task's ``chart``: ``{"type": "bar", "x": "region", "y": ["revenue"], "title": ...}``.

The chart draws one point per row of the result, in the query's order: ``x`` names the
column of the categories (a bar group, a point on the line, a slice), ``y`` the number
columns drawn over them (one bar or line each; a pie takes exactly one). So the query
gives one row per category (``GROUP BY region``), and the same chart reads the same in
the xlsx (a native Excel chart over the sheet's cells), the PDF and the email.

Checked in three places, each with what it can know:

* :func:`read_chart`, wherever a task is read (add, edit, validate, load): the shape,
  the type, a pie of more than one ``y``, ``x`` among the ``y``, a column the task's
  ``columns`` hide or format as something other than numbers (``y``);
* :func:`chart_column_errors`, when ``add`` / ``edit`` / ``validate`` learn the result's
  column names from the database (the SQL check): ``x`` or ``y`` that are not among them;
* :class:`ChartData`, while a run's rows stream: a column the result does not have, more
  than :data:`MAX_CATEGORIES` rows, no numbers to draw. Such a chart is not drawn, and
  the run's record and email say why; the run itself never fails for its chart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from src.core.cell_text import is_number
from src.core.column_format import ColumnSpec
from src.core.errors import ValidationError
from src.core.vocabulary import ChartType, ColumnType, ValueFormat

#: Categories (rows) a chart draws at most: past this bars turn into lines and labels
#: overlap, so a bigger result gets no chart and a note instead.
MAX_CATEGORIES = 50
#: Columns a chart draws at most as ``y``: more series than colours a reader tells apart.
MAX_SERIES = 6
TITLE_MAX = 120
#: Series colours (RGB hex), the same in the xlsx, the PDF and the email's picture; a
#: colour-blind-safe set (Okabe and Ito), in the order series and slices take them.
PALETTE = ("0072B2", "E69F00", "009E73", "D55E00", "CC79A7", "56B4E9", "F0E442", "000000")
_KEYS = ("type", "x", "y", "title")
_NOT_NUMBERS = {
    ValueFormat.TEXT: "text",
    ValueFormat.BOOLEAN: "boolean",
    ValueFormat.DATE: "date",
    ValueFormat.DATETIME: "datetime",
}
_EXAMPLE = '{"type": "bar", "x": "region", "y": ["revenue"], "title": "Revenue by region"}'
_LINE_BREAK = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class ChartSpec:
    type: ChartType
    x: str
    y: tuple[str, ...]
    title: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.x, *self.y)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value, "x": self.x, "y": list(self.y)}
        if self.title is not None:
            out["title"] = self.title
        return out


def read_chart(
    raw: Any,
    columns: Mapping[str, ColumnSpec] | None = None,
    types: Mapping[str, ColumnType] | None = None,
) -> tuple[ChartSpec | None, list[ValidationError]]:
    """The tasks.json ``chart`` checked against what the task itself says (its
    ``columns`` and ``types``): the spec, and every problem with its field path."""
    errors: list[ValidationError] = []

    def fail(field: str, message: str) -> None:
        errors.append(ValidationError(field, message))

    if raw is None:
        return None, errors
    if not isinstance(raw, Mapping):
        return None, [ValidationError("chart", f"{raw!r} is not an object like {_EXAMPLE}")]
    for key in raw:
        if key not in _KEYS:
            fail(f"chart.{key}", f"unknown setting; known: {', '.join(_KEYS)}")
    kind = raw.get("type")
    if kind not in ChartType.values():
        fail(
            "chart.type",
            f"{kind!r} is not a chart type; known: "
            + "; ".join(f"{t.value} ({t.help})" for t in ChartType),
        )
    x = raw.get("x")
    if not isinstance(x, str) or not x:
        fail("chart.x", f"{x!r} is not a column name (the column of the categories)")
    y = raw.get("y")
    if isinstance(y, str):  # one column written without its list
        y = [y]
    if not (isinstance(y, list) and y and all(isinstance(c, str) and c for c in y)):
        fail("chart.y", f'{y!r} is not a list of column names like ["revenue", "cost"]')
        y = []
    elif len(set(y)) != len(y):
        fail("chart.y", f"{y!r} names a column twice")
    elif len(y) > MAX_SERIES:
        fail("chart.y", f"{len(y)} columns; a chart draws at most {MAX_SERIES}")
    if kind == ChartType.PIE and len(y) > 1:
        fail(
            "chart.y",
            f"a pie shows one column of numbers; {', '.join(map(repr, y))} are "
            f"{len(y)}: keep one, or use a bar chart",
        )
    if isinstance(x, str) and x in y:
        fail("chart.x", f"{x!r} is also in y: x names the categories, y the numbers")
    title = raw.get("title")
    if title is not None and (
        not isinstance(title, str) or len(title) > TITLE_MAX or _LINE_BREAK.search(title)
    ):
        fail("chart.title", f"{title!r} is not one line of at most {TITLE_MAX} characters")
    specs, declared = columns or {}, types or {}
    names = [x] if isinstance(x, str) else []
    for role, name in [*(("x", n) for n in names), *(("y", n) for n in y)]:
        spec = specs.get(name)
        if spec is not None and spec.hidden:
            fail(
                f"chart.{role}",
                f"the column {name!r} is hidden (columns.{name}.hidden), so no file shows "
                "it to draw from; show it or chart another column",
            )
        if role != "y":
            continue
        shown = _NOT_NUMBERS.get(spec.format) if spec and spec.format else None
        kind_of = declared.get(name)
        if kind_of is not None:
            shown = kind_of.value
        if shown is not None:
            fail(
                "chart.y",
                f"the column {name!r} is {shown} (its format or type says so); y takes "
                "columns of numbers",
            )
    if errors:
        return None, errors
    assert isinstance(x, str) and isinstance(kind, str)
    return ChartSpec(ChartType(kind), x, tuple(y), title if title else None), errors


def chart_column_errors(chart: ChartSpec, result_columns: Sequence[str]) -> list[str]:
    """What is wrong with ``chart`` for a result of these column names (known by asking
    the database at add / edit / validate): x or y columns it does not have."""
    missing = [name for name in chart.columns if name not in result_columns]
    if not missing:
        return []
    which = ", ".join(repr(name) for name in missing)
    return [
        f"chart names {which}, which the query's result does not have (its columns: "
        f"{', '.join(result_columns) or 'none'}); use those names as the query writes "
        "them (an alias: SUM(total) AS revenue)"
    ]


class ChartData:
    """The points of a run's chart, gathered while its rows stream (shown columns only):
    at most MAX_CATEGORIES + 1 rows are kept, the rest only counted."""

    def __init__(self, chart: ChartSpec, labels: Sequence[str], names: Sequence[str]) -> None:
        """``labels``: the shown columns' headers; ``names``: their names in the result."""
        self.spec = chart
        self.rows = 0
        self.categories: list[Any] = []
        self.values: list[list[float | None]] = [[] for _ in chart.y]
        self.numbers = [0] * len(chart.y)
        self.negative = False
        index = {name: i for i, name in enumerate(names)}
        self.missing = [name for name in chart.columns if name not in index]
        self.x_index = index.get(chart.x, -1)
        self.y_indexes = [index.get(name, -1) for name in chart.y]
        #: The series' names as shown (the columns' labels)
        self.series = [labels[i] if i >= 0 else name
                       for i, name in zip(self.y_indexes, chart.y, strict=True)]  # fmt: skip
        self.x_label = labels[self.x_index] if self.x_index >= 0 else chart.x

    @property
    def title(self) -> str:
        """The chart's title: as set, else ``revenue by region`` from the labels."""
        return self.spec.title or f"{' and '.join(self.series)} by {self.x_label}"

    def add(self, shown_rows: Sequence[Sequence[Any]]) -> None:
        """Count rows projected to the shown columns; keep the first ones' points."""
        if self.missing:
            self.rows += len(shown_rows)
            return
        room = MAX_CATEGORIES + 1 - len(self.categories)
        for row in shown_rows[: max(room, 0)]:
            self.categories.append(row[self.x_index])
            for n, i in enumerate(self.y_indexes):
                value = row[i]
                number = float(value) if is_number(value) else None
                if number is not None and not math.isfinite(number):
                    number = None
                if number is not None:
                    self.numbers[n] += 1
                    self.negative = self.negative or number < 0
                self.values[n].append(number)
        self.rows += len(shown_rows)

    @property
    def drawable(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the chart is not drawn (a sentence for the run's notes), or None."""
        if self.missing:
            return (
                f"chart names {', '.join(map(repr, self.missing))}, which the result does not "
                "have; the chart was not drawn"
            )
        if self.rows > MAX_CATEGORIES:
            return (
                f"the chart was not drawn: the result has {self.rows:,} rows and a chart shows "
                f"at most {MAX_CATEGORIES} categories (one per row); group the query so it "
                "returns fewer rows"
            )
        if self.rows == 0:
            return "the chart was not drawn: the result has no rows"
        empty = [name for name, n in zip(self.series, self.numbers, strict=True) if n == 0]
        if empty:
            return f"the chart was not drawn: {', '.join(map(repr, empty))} holds no numbers"
        if self.spec.type is ChartType.PIE and self.negative:
            return "the pie was not drawn: its column has negative numbers, which a pie cannot show"
        return None
