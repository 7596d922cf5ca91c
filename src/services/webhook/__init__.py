"""The daemon's HTTP API: webhook triggers, task and run status, health and metrics.

Wiring, in the daemon::

    settings = WebhookSettings.from_env(env, data_dir, listen=options.http)
    if settings is not None:
        app = create_app(control, settings, metrics=metrics)
        server = HttpServer(app, settings.listen.host, settings.listen.port,
                            trusted_proxy=settings.trusted_proxy,
                            max_body_bytes=settings.max_body_bytes)
        server.start()   # ... server.stop() at shutdown
"""

from __future__ import annotations

from src.services.webhook.app import create_app
from src.services.webhook.control import (
    DaemonControl,
    Handoff,
    HealthState,
    TriggerResult,
    Unavailable,
)
from src.services.webhook.metrics import Metrics
from src.services.webhook.server import HttpServer
from src.services.webhook.settings import WebhookSettings, parse_listen
from src.services.webhook.urls import WebhookInstructions, webhook_instructions

__all__ = [
    "DaemonControl",
    "Handoff",
    "HealthState",
    "HttpServer",
    "Metrics",
    "TriggerResult",
    "Unavailable",
    "WebhookInstructions",
    "WebhookSettings",
    "create_app",
    "parse_listen",
    "webhook_instructions",
]
