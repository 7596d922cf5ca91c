"""Opening the preview page with the desktop's opener (src/cli/opener.py).

There is no desktop session here: stand-in openers (small shell scripts on PATH) play
``xdg-open``, each recording what it was given or failing as a real one can."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from src.cli import opener
from src.cli.opener import desktop_opener, open_in_browser


def script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_linux_needs_a_desktop_session_and_xdg_open(tmp_path: Path) -> None:
    xdg = script(tmp_path / "bin", "xdg-open", "exit 0")
    path = str(tmp_path / "bin")
    assert desktop_opener({"PATH": path}, "linux") is None  # over SSH: no session
    assert desktop_opener({"PATH": path, "DISPLAY": ":0"}, "linux") == str(xdg)
    assert desktop_opener({"PATH": path, "WAYLAND_DISPLAY": "wayland-0"}, "linux") == str(xdg)
    assert desktop_opener({"PATH": str(tmp_path), "DISPLAY": ":0"}, "linux") is None
    mac = script(tmp_path / "mac", "open", "exit 0")
    assert desktop_opener({"PATH": str(tmp_path / "mac")}, "darwin") == str(mac)


def test_the_page_is_handed_over_as_a_file_uri(tmp_path: Path) -> None:
    asked = tmp_path / "asked"
    script(tmp_path / "bin", "xdg-open", f'printf "%s" "$1" > "{asked}"')
    page = tmp_path / "a page" / "index.html"
    page.parent.mkdir()
    page.write_text("<p>hi</p>")
    said = open_in_browser(page, {"PATH": str(tmp_path / "bin"), "DISPLAY": ":0"})
    assert said == f"Opened with xdg-open: {page.as_uri()}"
    assert asked.read_text() == page.as_uri() and "%20" in page.as_uri()


def test_an_opener_that_fails_is_reported_with_what_it_said(tmp_path: Path) -> None:
    script(tmp_path / "bin", "xdg-open", 'echo "xdg-open: no method available" >&2; exit 3')
    page = tmp_path / "index.html"
    said = open_in_browser(page, {"PATH": str(tmp_path / "bin"), "DISPLAY": ":0"})
    assert said == (
        "Not opened: xdg-open exited with status 3 (xdg-open: no method available); "
        f"open {page.as_uri()} in a browser"
    )


def test_an_opener_still_running_is_taken_as_showing_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opener, "OPEN_WAIT", 0.3)
    script(tmp_path / "bin", "xdg-open", "exec /bin/sleep 3")
    page = tmp_path / "index.html"
    said = open_in_browser(page, {"PATH": str(tmp_path / "bin"), "DISPLAY": ":0"})
    assert said == f"Opened with xdg-open (still starting): {page.as_uri()}"


def test_the_environment_is_read_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(opener.sys, "platform", "linux")
    said = open_in_browser(tmp_path / "index.html")
    assert said.startswith("Not opened: there is no desktop here") and os.environ.get("PATH")
