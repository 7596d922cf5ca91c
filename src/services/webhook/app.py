"""The HTTP API as a Flask application: trigger runs, read tasks and runs, health, metrics.

Every answer is JSON (``{"error": "..."}`` on failure) with the status that says
what happened; an unexpected exception is logged with its traceback and answered
with a plain 500, never a trace or a path. The daemon's side is the
:class:`~src.services.webhook.control.DaemonControl` protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from src.core.clock import now as clock_now
from src.core.task import Task
from src.core.vocabulary import RunStatus, Trigger
from src.services.auth.roles import Principal, Role
from src.services.cluster.database import ClusterUnavailable
from src.services.run_index import IndexUnavailable
from src.services.webhook.control import (
    DaemonControl,
    TriggerResult,
    Unavailable,
)
from src.services.webhook.errors import UNAVAILABLE_RETRY_AFTER, ApiError
from src.services.webhook.errors import fail as _fail
from src.services.webhook.idempotency import IdempotencyStore, check_key
from src.services.webhook.metrics import Metrics
from src.services.webhook.security import (
    SIGNATURE_HEADERS,
    RateLimiter,
    SignatureError,
    check_signature,
)
from src.services.webhook.settings import WebhookSettings
from src.services.webhook.views import health_json, health_problems

if TYPE_CHECKING:  # the API's modules import this package's: loaded in create_app
    from src.services.api import ApiContext

log = logging.getLogger("db_scheduler.webhook")


def create_app(
    control: DaemonControl,
    settings: WebhookSettings,
    *,
    context: ApiContext,
    metrics: Metrics | None = None,
    clock: Callable[[], datetime] = clock_now,
    limiter: RateLimiter | None = None,
    idempotency: IdempotencyStore | None = None,
) -> Flask:
    """The WSGI application: the trigger, /health, /metrics here, the REST API's routes
    from :mod:`src.services.api` over ``context``. ``metrics``: the daemon's (a new one
    when not given);
    ``limiter`` / ``idempotency`` / ``clock`` are for tests that need their own."""
    from src.services.api import register_api
    from src.services.api.authn import caller, require
    from src.services.api.params import parsed_json
    from src.services.api.tasks import loaded_task, settle, webhook_refusal
    from src.services.web import register_web

    app = Flask("db_scheduler_webhook", static_folder=None)  # the pages serve their own
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    metrics = metrics or Metrics(clock=clock)
    metrics.watch(control.health)
    if context.cluster is not None:
        metrics.watch_cluster(context.cluster.node_name, lambda: context.nodes() or [])
    limiter = limiter or RateLimiter(settings.rate_limit_per_minute)
    keys = idempotency or IdempotencyStore(
        settings.idempotency_path, timedelta(hours=settings.idempotency_hours), clock=clock
    )
    app.extensions["db_scheduler"] = {"metrics": metrics, "idempotency": keys}
    context.allow_query_token = settings.allow_query_token
    context.health_max_tick_age = settings.health_max_tick_age
    register_api(app, context)
    register_web(app)

    # -- errors ---------------------------------------------------------------------------

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = jsonify({"error": exc.message, **exc.extra})
        response.status_code = exc.status
        response.headers.update(exc.headers)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="db-scheduler"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if isinstance(exc, RequestEntityTooLarge):
            message = f"the request body is larger than {settings.max_body_bytes} bytes"
        else:
            message = f"{exc.name}: {exc.description}"
        response = jsonify({"error": message})
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():
            if name.lower() == "allow":  # 405 says which methods the path takes
                response.headers["Allow"] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, IndexUnavailable | ClusterUnavailable):  # the message says what to do
            response = jsonify({"error": str(exc)})
            response.status_code = 503
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            return response
        if isinstance(exc, Unavailable):
            response = jsonify({"error": f"the scheduler cannot take requests now: {exc}"})
            response.status_code = 503
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            return response
        log.error(
            "HTTP API: unexpected %s on %s %s",
            type(exc).__name__,
            request.method,
            request.path,
            exc_info=exc,
            extra={"event": "http-error", "fields": {"path": request.path}},
        )
        response = jsonify({"error": "internal error; the daemon's log has the details"})
        response.status_code = 500
        return response

    @app.before_request
    def cap_body() -> None:
        length = request.content_length
        if length is not None and length > settings.max_body_bytes:
            raise RequestEntityTooLarge()

    @app.after_request
    def no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # -- helpers ----------------------------------------------------------------------------

    def authorize(role: Role = Role.VIEWER) -> Principal:
        """The caller, with ``role`` or above (src/services/api/authn.py)."""
        return require(role)

    def query_arg(name: str) -> str | None:
        """The one value of ``?name=`` (None when absent); given twice is a 400, never a
        silent pick of one of them."""
        values = request.args.getlist(name)
        if len(values) > 1:
            _fail(400, f"{name} is given {len(values)} times in the URL; give it once")
        return values[0] if values else None

    def lookup(ref: str) -> Task:
        return loaded_task(ref)

    def status_url(run_id: str) -> str:
        base = settings.public_url or request.host_url.rstrip("/")
        return f"{base}/api/runs/{run_id}"

    def client() -> str:
        return request.remote_addr or "unknown"

    # -- health and metrics -------------------------------------------------------------------

    @app.get("/health")
    def health() -> tuple[Response, int]:
        try:
            state = control.health()
        except Exception as exc:
            log.warning("HTTP API: health check failed: %s", exc)
            body = {"status": "unhealthy", "problems": ["the scheduler did not answer"]}
            return jsonify(body), 503
        problems = health_problems(state, clock(), settings.health_max_tick_age)
        return jsonify(health_json(state, not problems, problems)), 503 if problems else 200

    @app.get("/metrics")
    def metrics_page() -> Response:
        if not settings.metrics_public:
            authorize()
        return Response(metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    # -- trigger --------------------------------------------------------------------------------

    @app.post("/api/tasks/<ref>/run")
    def trigger(ref: str) -> tuple[Response, int]:
        wait = limiter.allow(client())
        if wait:
            metrics.count_webhook("limited")
            error = ApiError(
                429,
                f"too many trigger calls from {client()}; try again in {wait} s "
                f"(limit: {settings.rate_limit_per_minute:g} a minute)",
            )
            error.headers["Retry-After"] = str(wait)
            raise error
        try:
            authorize(Role.OPERATOR)
        except ApiError:
            metrics.count_webhook("unauthorized")
            raise
        body = request.get_data(cache=True)
        if settings.hmac_secret is not None:
            header = next(
                (request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers), None
            )
            try:
                check_signature(header, body, settings.hmac_secret)
            except SignatureError as exc:
                metrics.count_webhook("bad-signature")
                _fail(400 if exc.malformed else 401, str(exc))
        if body and request.is_json and parsed_json() is None:
            _fail(400, "the body is not valid JSON (it may also be empty)")
        key = request.headers.get("Idempotency-Key")
        if key is None:
            key = query_arg("key")
        if key is not None:
            problem = check_key(key)
            if problem:
                _fail(400, f"Idempotency-Key: {problem}")
        task = lookup(ref)
        if not task.webhook:
            metrics.count_webhook("opted-out")
            _fail(403, webhook_refusal(task))
        if key is None:
            return answer(
                task, control.trigger(task, trigger=Trigger.WEBHOOK, idempotency_key=None)
            )
        with keys.guard():
            first = keys.get(task.id, key)
            if first is not None and not _lost(control, first.run_id):
                metrics.count_webhook("replayed")
                log.info(
                    "HTTP API: task %r: Idempotency-Key repeated; answering with run %s",
                    task.name,
                    first.run_id[:8],
                    extra={
                        "event": "webhook",
                        "fields": {"task_id": task.id, "run_id": first.run_id},
                    },
                )
                status = _current_status(control, first.run_id)
                replay = _accepted_body(task, first.run_id, status, status_url(first.run_id))
                response = jsonify(replay)
                response.headers["Idempotent-Replayed"] = "true"
                response.headers["Location"] = status_url(first.run_id)
                return response, 200
            if first is not None:
                keys.forget(task.id, key)
            result = control.trigger(task, trigger=Trigger.WEBHOOK, idempotency_key=key)
            if result.accepted and result.run_id:
                keys.remember(task.id, key, result.run_id)
            return answer(task, result)

    def answer(task: Task, result: TriggerResult) -> tuple[Response, int]:
        if not result.accepted or not result.run_id:
            reason = result.reason or "the scheduler refused the run"
            metrics.count_webhook("unavailable" if result.unavailable else "refused")
            log.info(
                "HTTP API: task %r: webhook run refused: %s",
                task.name,
                reason,
                extra={"event": "webhook", "fields": {"task_id": task.id, "reason": reason}},
            )
        else:
            metrics.count_webhook("accepted")
        run_id = settle(task, result, caller())
        log.info(
            "HTTP API: task %r: webhook run %s queued (client %s)",
            task.name,
            run_id[:8],
            client(),
            extra={"event": "webhook", "fields": {"task_id": task.id, "run_id": run_id}},
        )
        url = status_url(run_id)
        response = jsonify(_accepted_body(task, run_id, "queued", url))
        response.headers["Location"] = url
        return response, 202

    return app


def _accepted_body(task: Task, run_id: str, status: str, url: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "status": status,
        "task_id": task.id,
        "task_name": task.name,
        "trigger": Trigger.WEBHOOK,
        "status_url": url,
    }


def _current_status(control: DaemonControl, run_id: str) -> str:
    record = control.history().get(run_id)
    if record is not None:
        return record.status
    live = control.run_status(run_id) or {}
    return str(live.get("status") or "queued")


def _lost(control: DaemonControl, run_id: str) -> bool:
    """A remembered run that never started: the daemon restarted while it was queued, or
    dropped it before its start (recorded ``skipped``: stopped, task disabled)."""
    record = control.history().get(run_id)
    if record is None:
        return control.run_status(run_id) is None
    return record.status == RunStatus.SKIPPED and "started" not in record.steps
