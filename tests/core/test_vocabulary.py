"""The closed vocabularies: documented where a user looks, offered exactly by the CLI."""

from __future__ import annotations

import json
import re

import click
import pytest

from src.cli.app import cli
from src.core.vocabulary import (
    FINAL_STATUSES,
    SCHEDULED_TRIGGERS,
    CatchUpPolicy,
    ChartType,
    ColumnType,
    Comparison,
    DefinitionFormat,
    ExportFormat,
    HighlightStyle,
    ImportSource,
    OnFailure,
    ReportLocale,
    RunStatus,
    SendIf,
    StepKind,
    StepResultField,
    StepStatus,
    TotalKind,
    Trigger,
    ValueFormat,
    Vocabulary,
)
from tests.servers import ROOT

DOCS = ROOT / "docs"

#: Where each vocabulary is documented for people.
DOCUMENTED_IN = {
    CatchUpPolicy: "tasks-json.md",
    SendIf: "tasks-json.md",
    ExportFormat: "tasks-json.md",
    ColumnType: "reports.md",
    ValueFormat: "reports.md",
    TotalKind: "reports.md",
    Comparison: "reports.md",
    HighlightStyle: "reports.md",
    ChartType: "reports.md",
    ReportLocale: "reports.md",
    RunStatus: "daemon.md",
    Trigger: "daemon.md",
    StepKind: "steps.md",
    OnFailure: "steps.md",
    StepStatus: "steps.md",
    StepResultField: "steps.md",
    DefinitionFormat: "steps.md",
    ImportSource: "steps.md",
}


@pytest.mark.parametrize("vocabulary", list(DOCUMENTED_IN), ids=lambda v: v.__name__)
def test_every_value_is_documented(vocabulary: type[Vocabulary]) -> None:
    text = (DOCS / DOCUMENTED_IN[vocabulary]).read_text()
    missing = [v for v in vocabulary.values() if f"`{v}`" not in text]
    assert not missing, f"docs/{DOCUMENTED_IN[vocabulary]} does not mention {missing}"


def test_run_records_tables_match_the_help() -> None:
    """The status and trigger tables of docs/daemon.md say what the enums' help says."""
    text = (DOCS / "daemon.md").read_text()
    for vocabulary in (RunStatus, Trigger):
        for member in vocabulary:
            row = re.search(rf"^\| `{re.escape(member.value)}` \| (.*) \|$", text, re.M)
            assert row, f"no table row for {member.value!r}"
            assert row.group(1).replace("`", "") == member.help


def _option(command: str, name: str) -> click.Option:
    params = cli.commands[command].params
    return next(p for p in params if isinstance(p, click.Option) and name in p.opts)


@pytest.mark.parametrize("command", ["add", "edit"])
@pytest.mark.parametrize(
    ("option", "vocabulary"), [("--send-if", SendIf), ("--catch-up", CatchUpPolicy)]
)
def test_choice_options_offer_exactly_the_vocabulary(
    command: str, option: str, vocabulary: type[Vocabulary]
) -> None:
    param = _option(command, option)
    assert isinstance(param.type, click.Choice)
    assert tuple(param.type.choices) == vocabulary.values()
    assert param.help is not None
    for member in vocabulary:
        assert f"{member.value}: {member.help}" in param.help


@pytest.mark.parametrize("command", ["add", "edit"])
def test_one_export_toggle_per_format(command: str) -> None:
    for fmt in ExportFormat:
        assert _option(command, f"--{fmt}").secondary_opts == [f"--no-{fmt}"]


def test_members_are_their_plain_strings() -> None:
    assert RunStatus.SUCCESS == "success" and str(Trigger.CATCH_UP) == "catch-up"
    assert f"{SendIf.ROWS!r}" == "'rows'"
    assert json.dumps({"trigger": Trigger.CATCH_UP}) == '{"trigger": "catch-up"}'
    assert SendIf("no_rows") is SendIf.NO_ROWS
    assert ExportFormat.values() == ("xlsx", "pdf", "csv")
    assert all(member.help for v in DOCUMENTED_IN for member in v)


def test_derived_tuples() -> None:
    assert set(FINAL_STATUSES) == set(RunStatus) - {RunStatus.RUNNING}
    assert SCHEDULED_TRIGGERS == ("schedule", "catch-up")
