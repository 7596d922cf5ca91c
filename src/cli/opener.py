"""Opening a page in the desktop's browser (``preview --open``), or saying plainly why not.

The desktop's own opener is used: ``xdg-open`` on Linux, ``open`` on macOS. On Linux it
is used only with a desktop session to show the page in (``DISPLAY`` or
``WAYLAND_DISPLAY``): without one, ``xdg-open`` (like Python's ``webbrowser``) falls back
to a text browser in the terminal, which would take over the command's own terminal on
a server reached over SSH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: Seconds to wait for the opener: it normally hands the page to the browser and exits
#: at once; one still running after this is taken to be showing it.
OPEN_WAIT = 5.0


def desktop_opener(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """The opener's path, or None when there is no desktop to open a page on."""
    path = env.get("PATH", os.defpath)
    if platform == "darwin":
        return shutil.which("open", path=path)
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return None
    return shutil.which("xdg-open", path=path)


def open_in_browser(page: Path, env: Mapping[str, str] | None = None) -> str:
    """Open ``page`` with the desktop's opener; one line saying what happened."""
    env = os.environ if env is None else env
    uri = page.resolve().as_uri()
    opener = desktop_opener(env)
    if opener is None:
        return (
            "Not opened: there is no desktop here to open it on (xdg-open with a DISPLAY "
            f"or WAYLAND_DISPLAY, or macOS's open); open {uri} in a browser"
        )
    name = Path(opener).name
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                [opener, uri],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=dict(env),
                start_new_session=True,  # a browser it starts outlives this command
            )
        except OSError as exc:
            return f"Not opened: {opener} could not be started ({exc.strerror or exc})"
        try:
            code = process.wait(timeout=OPEN_WAIT)
        except subprocess.TimeoutExpired:
            return f"Opened with {name} (still starting): {uri}"
        if code != 0:
            errors.seek(0)
            said = " ".join(errors.read().decode(errors="replace").split())[:300]
            return (
                f"Not opened: {name} exited with status {code}"
                + (f" ({said})" if said else "")
                + f"; open {uri} in a browser"
            )
    return f"Opened with {name}: {uri}"
