"""Every setting the code reads is documented in .env.example."""

from __future__ import annotations

import re

from tests.servers import ROOT

SETTINGS_MODULES = [
    "src/services/connections.py",
    "src/services/envparse.py",
    "src/services/settings.py",
    "src/services/mail/settings.py",
    "src/services/scheduler/settings.py",
    "src/services/webhook/settings.py",
    "src/services/cluster/settings.py",
]
# Not settings of a deployment: a debugging switch and the name of the settings file itself.
NOT_IN_ENV_FILE = {"DB_SCHEDULER_DEBUG", "ENV_FILE"}


def test_every_setting_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    read = set()
    for module in SETTINGS_MODULES:
        read |= set(re.findall(r'"([A-Z][A-Z0-9_]{4,})"', (ROOT / module).read_text()))
    read -= NOT_IN_ENV_FILE
    assert len(read) > 30
    assert sorted(read - documented) == []
