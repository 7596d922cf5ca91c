#!/usr/bin/env python3
"""Manage scheduled report tasks in tasks.json. See `manage_tasks.py --help`."""

from src.cli.bootstrap import ensure_project_python

ensure_project_python()  # before click is imported: re-exec with .venv/bin/python, or a hint

from src.cli.app import cli  # noqa: E402

if __name__ == "__main__":
    cli(prog_name="manage_tasks.py")
