"""The contract every export format keeps (src/services/export/base.py, looked up through
src/services/export/__init__.py): temporary name until close, abort and I/O failures leave
no file behind, an unknown format lists the known ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.core.errors import ExportError, ValidationError
from src.core.result import Column
from src.services.export import EXPORTERS, ExportContext, get_exporter
from tests.servers import ROOT

CONTEXT = ExportContext("t", datetime(2026, 3, 2, 6, 0, tzinfo=UTC), ZoneInfo("Europe/Berlin"))


FORMATS = sorted(EXPORTERS)


# --------------------------------------------------------------------------- contract


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as err:
        get_exporter("docx")
    assert str(err.value) == "format: unknown export format 'docx'; known: xlsx, pdf, csv"


def test_a_format_is_imported_when_first_asked_for(tmp_path: Path) -> None:
    # a CSV-only run writes its file without loading reportlab, PIL and the xlsx writer
    # (about 0.3 s of every such run's start); asking for the PDF then loads it
    code = textwrap.dedent(f"""
        import sys
        from datetime import UTC, datetime
        from pathlib import Path
        from zoneinfo import ZoneInfo
        import src.services.runner
        from src.core.result import Column
        from src.services.export import ExportContext, get_exporter
        context = ExportContext("t", datetime(2026, 3, 2, tzinfo=UTC), ZoneInfo("UTC"))
        writer = get_exporter("csv").open(Path({str(tmp_path / "r.csv")!r}), [Column("a")], context)
        writer.write_batch([[1], [2]])
        writer.close()
        heavy = ("reportlab", "PIL", "openpyxl", "src.services.export.xlsx",
                 "src.services.export.pdf")
        print(sorted(m for m in heavy if m in sys.modules))
        get_exporter("pdf")
        print(sorted(m for m in ("reportlab", "src.services.export.pdf") if m in sys.modules))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "['reportlab', 'src.services.export.pdf']"]
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").split() == ["a", "1", "2"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_has_its_final_name_only_after_close(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"r.{fmt}"
    writer = get_exporter(fmt).open(path, [Column("a"), Column("b")], CONTEXT)
    writer.write_batch([[1, "x"], [2, "y"]])
    assert not path.exists()
    partial = list(tmp_path.iterdir())
    assert len(partial) == 1 and partial[0].name.startswith(f".r.{fmt}.")
    result = writer.close()
    assert list(tmp_path.iterdir()) == [path]
    assert (result.format, result.path, result.rows_total) == (fmt, path, 2)
    assert result.size_bytes == path.stat().st_size > 0
    with pytest.raises(ExportError):
        writer.write_batch([[3, "z"]])


@pytest.mark.parametrize("fmt", FORMATS)
def test_abort_removes_the_partial_file(tmp_path: Path, fmt: str) -> None:
    writer = get_exporter(fmt).open(tmp_path / f"r.{fmt}", [Column("a")], CONTEXT)
    writer.write_batch([[i] for i in range(100)])
    writer.abort()
    writer.abort()  # idempotent
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_export_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "r.csv"
    with pytest.raises(ExportError) as err:
        get_exporter("csv").open(path, [Column("a")], CONTEXT)
    assert str(path) in str(err.value) and "No such file or directory" in str(err.value)


# A child process with a small file-size limit: writes past it fail with EFBIG (SIGXFSZ
# is ignored, else the kernel would kill the child), as on a full disk.
_FULL_DISK_CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo
    from src.core.errors import ExportError
    from src.core.result import Column
    from src.services.export import ExportContext, get_exporter

    fmt, folder = sys.argv[1], Path(sys.argv[2])
    context = ExportContext("t", datetime(2026, 3, 2, tzinfo=UTC), ZoneInfo("UTC"))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    writer = get_exporter(fmt).open(folder / f"r.{fmt}", [Column("a"), Column("b")], context)
    try:
        for _ in range(50):
            writer.write_batch([[i, os.urandom(40).hex()] for i in range(1000)])
        writer.close()
        print(json.dumps({"error": None}))
    except ExportError as exc:
        print(json.dumps({"error": str(exc), "permanent": exc.permanent}))
    """
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_full_disk_gives_a_transient_error_and_no_file(tmp_path: Path, fmt: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CHILD, fmt, str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    outcome = json.loads(proc.stdout)
    assert outcome["error"] is not None, "the size limit was never hit"
    assert outcome["error"].startswith(f"writing {tmp_path / f'r.{fmt}'} failed: ")
    assert "EFBIG" in outcome["error"]
    assert outcome["permanent"] is False
    assert list(tmp_path.iterdir()) == []
