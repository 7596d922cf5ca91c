"""The email service: build a report message, then send it over SMTP or into the outbox.

Typical use by the runner::

    settings = SmtpSettings.from_env(env, base_dir=project_dir)
    built = build_report_message(ReportEmail(...), settings)
    delivery = send_with_retry(settings, built, attempts=3, delay=30)
"""

from __future__ import annotations

from src.core.email_rules import (
    should_send,
    validate_address,
    validate_addresses,
    validate_header_text,
)
from src.services.mail.message import (
    ATTACHED,
    LEFT_OFF,
    NO_ATTACHMENTS,
    ZIPPED,
    BuiltMessage,
    ReportEmail,
    build_report_message,
    build_simple_message,
)
from src.services.mail.outbox import prune_outbox, write_outbox
from src.services.mail.settings import SmtpSettings
from src.services.mail.transport import (
    Delivery,
    retry_transient,
    send,
    send_test_message,
    send_with_retry,
)

__all__ = [
    "ATTACHED",
    "LEFT_OFF",
    "NO_ATTACHMENTS",
    "ZIPPED",
    "BuiltMessage",
    "Delivery",
    "ReportEmail",
    "SmtpSettings",
    "build_report_message",
    "build_simple_message",
    "prune_outbox",
    "retry_transient",
    "send",
    "send_test_message",
    "send_with_retry",
    "should_send",
    "validate_address",
    "validate_addresses",
    "validate_header_text",
    "write_outbox",
]
