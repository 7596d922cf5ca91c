"""The dashboard: task counts, the last 24 h of runs by status, the next runs, the runs
in flight, health and pause, a chart of the latest runs, and in cluster mode the nodes.
Its figures come from the API's own code (:func:`src.services.api.scheduler.state`, the
run index, the health checks /health makes, the nodes /api/cluster lists)."""

from __future__ import annotations

from datetime import timedelta

from werkzeug.wrappers import Response as BaseResponse

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.services.api.context import context
from src.services.api.scheduler import state
from src.services.run_index import RunQuery
from src.services.web.charts import run_chart
from src.services.web.common import blueprint, looking, render, zone
from src.services.webhook.views import health_problems

#: Runs the dashboard's chart shows: the latest ones, of every task.
CHART_RUNS = 120


@blueprint.get("/")
def dashboard() -> BaseResponse:
    looking()
    ctx = context()
    now = clock_now()
    scheduler = state()
    health = ctx.control.health()
    counts = ctx.runs.status_counts(to_utc_iso(now - timedelta(hours=24)))
    latest = ctx.runs.newest(RunQuery(limit=CHART_RUNS))
    tasks = scheduler["tasks"]
    return render(
        "dashboard.html",
        title="Dashboard",
        section="dashboard",
        scheduler=scheduler,
        enabled=tasks["enabled"],
        disabled=tasks["total"] - tasks["enabled"],
        failing=tasks["failing"],
        day_counts=sorted(counts.items(), key=lambda item: (-item[1], item[0])),
        day_total=sum(counts.values()),
        problems=health_problems(health, now, ctx.health_max_tick_age),
        health=health,
        chart=run_chart(latest, zone(), with_task=True),
        nodes=ctx.nodes(),
        this_node=ctx.cluster.node_name if ctx.cluster else None,
    )
