"""The CSV's ``formatted`` option (src/services/export/csv_export.py): values as the
report shows them, in the task's locale; without it the CSV stays machine-readable."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.fixtures.report_samples import context, export


def rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_machine_readable_by_default_whatever_the_locale(tmp_path: Path) -> None:
    export("csv", tmp_path / "r.csv", ctx=context(locale="de"))
    assert rows(tmp_path / "r.csv")[:3] == [
        ["Region", "Units", "Revenue"],
        ["North", "12", "1234.5"],
        ["South", "3", "-20.25"],
    ]


def test_formatted_asks_for_the_text_a_person_reads(tmp_path: Path) -> None:
    export("csv", tmp_path / "r.csv", ctx=context(locale="de"), formatted=True, delimiter=";")
    assert rows(tmp_path / "r.csv", ";") == [
        ["Region", "Units", "Revenue"],
        ["North", "12", "1.234,50\xa0€"],
        ["South", "3", "-20,25\xa0€"],
        ["East", "7", "560,00\xa0€"],
        ["West", "11", "2.210,40\xa0€"],
    ]
    export("csv", tmp_path / "en.csv", formatted=True)
    assert rows(tmp_path / "en.csv")[1] == ["North", "12", "€1,234.50"]
