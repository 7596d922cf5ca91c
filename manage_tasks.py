#!/usr/bin/env python3
"""Manage scheduled report tasks in tasks.json. See `manage_tasks.py --help`."""

from src.cli.app import cli

if __name__ == "__main__":
    cli(prog_name="manage_tasks.py")
