"""``manage_tasks.py preview``: a run's files and email, written into a folder to look at.

The run is the runner's own dry run (:meth:`src.services.runner.Runner.run` with
``dry_run``): the same query, exports and message a real run makes, through the same
code; nothing is sent, no line goes into the history and the task's summary in
tasks.json is not touched. The runner writes the files into the preview's folder
instead of the exports folder, so retention never removes them and they never mix
with real runs. The folder then holds:

* ``index.html``: the page to open: the message's headers, its HTML part as a mail
  client shows it (inline images written beside it), its plain-text part, and links
  to the files;
* ``email.html``: the HTML part alone, its ``cid:`` images pointing at their files;
* ``email.eml``: the message exactly as it would go out (any mail client opens it);
* the run's folder of exported files.

Previews in the default folder (``DATA_DIR/previews/``) go after EXPORTS_KEEP_DAYS, as
run folders do.
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, unquote

from src.core.errors import RunError
from src.core.task import Task
from src.core.vocabulary import Trigger
from src.services.atomic import atomic_write_bytes
from src.services.export import ExportFile
from src.services.export.files import prune_exports, safe_name
from src.services.mail.message import BuiltMessage
from src.services.permissions import make_private_dir
from src.services.query import QueryService
from src.services.runner import Runner, RunOutcome
from src.services.settings import Settings
from src.services.task_store import TaskStore

#: Files of a preview: readable by the owner and the group, as the exports are.
FILE_MODE = 0o640
PAGE = "index.html"
EMAIL_HTML = "email.html"
EMAIL_EML = "email.eml"

#: What to look at when a step of the run fails, by the error's kind.
_WHAT_TO_CHECK = {
    "query": "check the task's SQL and connection: `manage_tasks.py validate` has the "
    "database compile it, `manage_tasks.py test-connection` tries the connection",
    "timeout": "the query ran longer than the task's timeout_seconds; make it faster "
    "or raise timeout_seconds (`manage_tasks.py edit NAME --timeout ...`)",
    "export": "check the task's export options (`manage_tasks.py show NAME`) and that "
    "the preview folder is writable",
    "email": "check the task's email fields (recipients, subject and body templates; "
    "`manage_tasks.py validate`) and the SMTP_* / EMAIL_MAX_BYTES settings in .env",
}
_OTHERWISE = "check the task with `manage_tasks.py validate`"


@dataclass
class Preview:
    """What a preview wrote, and the run it comes from."""

    folder: Path
    page: Path
    outcome: RunOutcome
    #: The message as it would go out; None when a run would send none (and why, in
    #: ``outcome.email_skipped``).
    eml: Path | None = None
    email_html: Path | None = None
    #: Images the HTML part shows inline (a chart), written as files.
    images: list[Path] = field(default_factory=list)


class PreviewFailed(RunError):
    """The run a preview makes failed: the error, and what to check."""


def default_folder(settings: Settings, task: Task, now: datetime) -> Path:
    """``<DATA_DIR>/previews/<UTC time>_<task>``: private like the exports, and inside the
    project, where a desktop browser (snap or flatpak ones too) may read it."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.data_dir / "previews" / f"{stamp}_{safe_name(task.name, 60) or 'task'}"


def prune_previews(settings: Settings, now: datetime) -> list[Path]:
    """Remove the default folders of previews older than EXPORTS_KEEP_DAYS, as retention
    removes run folders (their names start with the same UTC time); a folder given with
    ``--out`` is the person's own and never touched."""
    return prune_exports(settings.data_dir / "previews", settings.exports_keep_days, now)


def what_to_check(error: RunError) -> str:
    return _WHAT_TO_CHECK.get(error.kind, _OTHERWISE)


def run_preview(
    store: TaskStore,
    settings: Settings,
    query: QueryService,
    task: Task,
    folder: Path,
    progress: Callable[[str], None] | None = None,
) -> Preview:
    """Make the task's files and email as a run would, into ``folder``; raises
    PreviewFailed (naming the step's error and what to check) when the run fails, and
    then leaves no folder it made behind."""
    made = not folder.exists()
    make_private_dir(folder)
    runner = Runner(store, replace(settings, exports_dir=folder), query)
    outcome = runner.run(task, trigger=Trigger.MANUAL, dry_run=True, progress=progress)
    if outcome.error is not None:
        error = outcome.error
        if made:
            _remove_empty(folder)
        raise PreviewFailed(
            f"the preview of {task.name!r} failed in its {error.kind} step: {error}\n"
            f"What to check: {what_to_check(error)}",
            permanent=error.permanent,
        )
    return write_preview(outcome, folder)


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and the folders in it, if no file is left in them (the runner
    removes the files of a failed run)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def write_preview(outcome: RunOutcome, folder: Path) -> Preview:
    """Write the page, the message and its inline images for a finished dry run."""
    make_private_dir(folder)
    result = Preview(folder, folder / PAGE, outcome)
    built = outcome.message
    email_body = ""
    if built is not None:
        result.eml = _write(folder / EMAIL_EML, built.data)
        images = _inline_images(built.message, folder)
        result.images = list(images.values())
        part = built.message.get_body(preferencelist=("html",))
        if part is not None:
            email_html = str(part.get_content())
            for cid, path in images.items():
                email_html = email_html.replace(f"cid:{cid}", html.escape(path.name))
            result.email_html = _write(folder / EMAIL_HTML, email_html.encode())
            email_body = _body_of(email_html)
    _write(result.page, _page(outcome, built, email_body, folder).encode())
    return result


def _write(path: Path, data: bytes) -> Path:
    atomic_write_bytes(path, data, mode=FILE_MODE)
    return path


def _inline_images(message: EmailMessage, folder: Path) -> dict[str, Path]:
    """Every part the HTML shows by Content-ID, written as ``inline-<n>.<ext>``."""
    images: dict[str, Path] = {}
    for part in message.walk():
        cid = str(part.get("Content-ID") or "").strip().strip("<>")
        if not cid or part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
        images[cid] = _write(folder / f"inline-{len(images) + 1}{extension}", data)
    return images


def _body_of(document: str) -> str:
    """The inside of an HTML document's ``<body>``, its own style kept on a wrapper."""
    match = re.search(r"<body([^>]*)>(.*)</body>", document, re.S | re.I)
    if match is None:
        return document
    return f"<div{match.group(1)}>{match.group(2)}</div>"


_STYLE = """
body.preview-page{margin:0;font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#1f2933;
background:#fff}
.preview-head{padding:16px 24px;background:#1f2933;color:#fff}
.preview-head h1{margin:0 0 4px;font-size:18px}
.preview-head p{margin:0;color:#cbd2d9}
.preview-section{padding:12px 24px}
.preview-section h2{margin:0 0 8px;font-size:15px}
.preview-headers th{text-align:left;padding:2px 12px 2px 0;color:#616e7c;font-weight:normal}
.preview-headers td{padding:2px 0}
.preview-mail{border:1px solid #d9dee3}
.preview-plain{margin:0;padding:12px;background:#f5f7fa;border:1px solid #d9dee3;
font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px;overflow-x:auto}
.preview-skipped{padding:12px;background:#fff7e6;border-left:4px solid #f0b429}
""".strip()


def _page(outcome: RunOutcome, built: BuiltMessage | None, email_body: str, folder: Path) -> str:
    task = outcome.task
    when = outcome.started_at.astimezone(task.zone).strftime("%Y-%m-%d %H:%M %Z")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Preview: {html.escape(task.name)}</title>",
        f"<style>{_STYLE}</style></head>",
        '<body class="preview-page">',
        '<div class="preview-head">',
        f"<h1>Preview of {html.escape(task.name)}</h1>",
        f"<p>Made {html.escape(when)} by <code>manage_tasks.py preview</code>, as a run would "
        f"make it: {outcome.rows:,} rows. Nothing was sent and nothing recorded.</p>",
        "</div>",
    ]
    if built is None:
        out.append(
            '<div class="preview-section"><p class="preview-skipped">No email would be '
            f"sent: {html.escape(outcome.email_skipped or 'the run made none')}.</p></div>"
        )
    else:
        out += [
            '<div class="preview-section"><h2>The email</h2>',
            _headers(built),
            "</div>",
            f'<div class="preview-section"><div class="preview-mail">{email_body}</div></div>',
        ]
        plain = built.message.get_body(preferencelist=("plain",))
        if plain is not None:
            out.append(
                '<div class="preview-section"><h2>Its plain-text part</h2>'
                f'<pre class="preview-plain">{html.escape(str(plain.get_content()))}</pre></div>'
            )
    out.append(_files(outcome.files, built is not None, folder))
    if outcome.notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in outcome.notes)
        out.append(f'<div class="preview-section"><h2>Notes</h2><ul>{items}</ul></div>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _headers(built: BuiltMessage) -> str:
    msg = built.message
    rows = [
        ("From", str(msg["From"] or "")),
        ("To", str(msg["To"] or "")),
        ("Cc", str(msg["Cc"] or "")),
        ("Delivered to", ", ".join(built.recipients)),
        ("Subject", str(msg["Subject"] or "")),
        ("Size", f"{built.size_bytes:,} bytes"),
        ("Attachments", built.attachments_mode + (f" ({built.size_reason})" if built.size_reason
                                                   else "")),
    ]  # fmt: skip
    cells = "".join(
        f"<tr><th>{name}</th><td>{html.escape(value)}</td></tr>" for name, value in rows if value
    )
    return f'<table class="preview-headers">{cells}</table>'


def _files(files: Sequence[ExportFile], has_email: bool, folder: Path) -> str:
    links = []
    if has_email:
        links.append((quote(EMAIL_EML), "the message as it would be sent (opens in a mail client)"))
        links.append((quote(EMAIL_HTML), "its HTML part alone"))
    for exported in files:
        links.append((_href(exported.path, folder), f"{exported.size_bytes:,} bytes"))
    items = "".join(
        f'<li><a href="{html.escape(href)}">{html.escape(unquote(href).rsplit("/", 1)[-1])}</a>'
        f" &mdash; {html.escape(what)}</li>"
        for href, what in links
    )
    return f'<div class="preview-section"><h2>Files</h2><ul>{items}</ul></div>'


def _href(path: Path, folder: Path) -> str:
    """A link to ``path`` from the page: relative inside the folder (the folder can be
    moved or zipped whole), a file: URI outside it; percent-encoded."""
    try:
        return quote(path.relative_to(folder).as_posix())
    except ValueError:
        return path.resolve().as_uri()
