"""Where a run puts things, read from .env / the environment.

Relative paths are taken from the folder of tasks.json, so the daemon, the CLI
and a systemd unit agree whatever their working directory.

| Variable | Default | Meaning |
|---|---|---|
| ``DATA_DIR`` | ``data`` | Exports, outbox and run history live here. |
| ``EXPORTS_DIR`` | ``$DATA_DIR/exports`` | One folder per run. |
| ``EXPORTS_KEEP_DAYS`` | ``30`` | Run folders older than this are removed. |
| ``HISTORY_FILE`` | ``$DATA_DIR/runs.jsonl`` | The run history. |
| ``HISTORY_KEEP_DAYS`` | ``90`` | Runs older than this are dropped from the history. |
| ``OUTBOX_DIR`` | ``$DATA_DIR/outbox`` | Messages land here when no ``SMTP_HOST`` is set. |
| ``OUTBOX_KEEP_DAYS`` | ``7`` | Outbox messages older than this go when a run writes one. |
| ``EMAIL_PREVIEW_ROWS`` | ``20`` | Rows shown in the message body. |
| ``EXPORT_FILENAME`` | ``{task_name}_{run_date:%Y-%m-%d}`` | File name template. |
| ``SMTP_RETRIES`` | ``3`` | Tries of a transient SMTP failure within a run. |
| ``SMTP_RETRY_DELAY`` | ``10`` | Seconds before the first SMTP retry. |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from src.core import defaults
from src.core.errors import ConfigError
from src.core.templating import check_template
from src.services.envparse import env_bool, env_int, env_number
from src.services.mail import SmtpSettings


@dataclass(frozen=True)
class Settings:
    base_dir: Path
    data_dir: Path
    exports_dir: Path
    exports_keep_days: int
    history_path: Path
    history_keep_days: int
    preview_rows: int
    filename_template: str
    smtp: SmtpSettings
    smtp_retries: int
    smtp_retry_delay: float
    #: Keep every writer in the run's process (no second process for a big result's
    #: files: export/writers.py), e.g. where runs at once already keep every CPU busy
    exports_in_one_process: bool = False
    #: Rows a result must pass before its writers may go to a second process
    second_process_rows: int = defaults.SECOND_PROCESS_ROWS

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path) -> Settings:
        def path(name: str, default: Path) -> Path:
            text = (env.get(name) or "").strip()
            chosen = Path(text).expanduser() if text else default
            return chosen if chosen.is_absolute() else base_dir / chosen

        data_dir = path("DATA_DIR", Path("data"))
        template = (env.get("EXPORT_FILENAME") or "").strip() or defaults.FILENAME_TEMPLATE
        try:
            check_template(template, "EXPORT_FILENAME")
        except Exception as exc:
            raise ConfigError(str(exc)) from None
        outbox = path("OUTBOX_DIR", data_dir / "outbox")
        smtp = SmtpSettings.from_env({**env, "OUTBOX_DIR": str(outbox)}, base_dir=base_dir)
        return cls(
            base_dir=base_dir,
            data_dir=data_dir,
            exports_dir=path("EXPORTS_DIR", data_dir / "exports"),
            exports_keep_days=env_int(env, "EXPORTS_KEEP_DAYS", 30, minimum=1),
            history_path=path("HISTORY_FILE", data_dir / "runs.jsonl"),
            history_keep_days=env_int(
                env, "HISTORY_KEEP_DAYS", defaults.HISTORY_KEEP_DAYS, minimum=1
            ),
            preview_rows=env_int(env, "EMAIL_PREVIEW_ROWS", 20),
            filename_template=template,
            smtp=smtp,
            smtp_retries=env_int(env, "SMTP_RETRIES", 3, minimum=1),
            smtp_retry_delay=env_number(env, "SMTP_RETRY_DELAY", 10.0),
            exports_in_one_process=env_bool(env, "EXPORT_IN_ONE_PROCESS"),
            second_process_rows=env_int(
                env, "EXPORT_SECOND_PROCESS_ROWS", defaults.SECOND_PROCESS_ROWS, minimum=0
            ),
        )
