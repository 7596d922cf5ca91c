"""The roles and what each may do: each role can do all that the one below it can.

| Role | May |
|---|---|
| ``viewer`` | read tasks, runs, files, connections, the scheduler, the audit log |
| ``operator`` | + run, enable and disable tasks, test connections, pause and resume |
| ``editor`` | + create, edit and delete tasks |
| ``admin`` | + users and tokens, and tasks that run commands on the machine |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(role.value for role in cls)
            raise ValueError(f"{text!r} is not a role; use one of {known}") from None


ROLE_HELP = {
    Role.VIEWER: "reads tasks, runs, files, connections, the scheduler and the audit log",
    Role.OPERATOR: "+ runs, enables and disables tasks, tests connections, pauses the scheduler",
    Role.EDITOR: "+ creates, edits and deletes tasks",
    Role.ADMIN: "+ manages users and tokens (and tasks that run commands)",
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``kind`` is ``user`` (a login session), ``token`` (an API token),
    ``webhook-token`` (WEBHOOK_TOKEN, an operator) or ``os-user`` (the CLI)."""

    name: str
    role: Role
    kind: str

    @property
    def label(self) -> str:
        """How the audit log names the caller: ``token:ci-bot``, ``user:alice``."""
        return f"{self.kind}:{self.name}"
