"""The console's pages (GET): read only, each behind the session (guard.signed_in)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from relay.console import views
from relay.console.guard import PATH, Visit, signed_in
from relay.console.render import page
from relay.models import DeliveryStatus
from relay.render.suppressed import REASONS
from relay.silences import MATCHER_KEYS

# ?notice=... after a form: fixed texts only (a query parameter is never echoed as a message)
NOTICES = {
    "replayed": "The delivery is pending again and goes out now.",
    "bulk": "The dead letters are pending again and go out now.",
    "silenced": "The silence is active.",
    "expired": "The silence has ended.",
}


def render(visit: Visit, request: Request, template: str, code: int = 200, **context: Any) -> Response:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    count = request.query_params.get("n", "")
    if notice and count.isdigit() and len(count) < 7:
        notice = f"{notice} ({int(count)})"
    return page(template, code, visit=visit, notice=notice, now=visit.relay.clock.now(), **context)


async def root(request: Request) -> Response:
    return RedirectResponse(PATH, status_code=303)


@signed_in
async def overview(request: Request, visit: Visit) -> Response:
    relay = visit.relay
    return render(
        visit,
        request,
        "overview.html",
        sources=await views.sources(relay),
        channels=await views.channels(relay),
        failures=await views.recent_failures(relay),
        charts=[
            await views.activity(relay, "Last hour", timedelta(hours=1), timedelta(minutes=5)),
            await views.activity(relay, "Last day", timedelta(days=1), timedelta(hours=1)),
        ],
        nav="overview",
    )


@signed_in
async def runs(request: Request, visit: Visit) -> Response:
    q = request.query_params
    source, task, status = q.get("source", ""), q.get("task", "").strip(), q.get("status", "").strip()
    since = q.get("since", "") if q.get("since", "") in views.SINCE else ""
    found = await views.runs(visit.relay, source, task, status, since)
    return render(
        visit,
        request,
        "runs.html",
        runs=found,
        sources=sorted(visit.relay.ruleset.sources),
        source=source,
        task=task,
        status=status,
        since=since,
        periods=list(views.SINCE),
        limit=views.SHOWN,
        scan=views.SCAN,
        nav="runs",
    )


@signed_in
async def run(request: Request, visit: Visit) -> Response:
    source, run_id = request.path_params["source"], request.path_params["run_id"]
    known = await visit.relay.store.known_runs(source, [run_id])
    steps = await views.timeline(visit.relay, source, run_id)
    if run_id not in known and not steps:
        return render(visit, request, "problem.html", 404, message="No such run.", nav="runs")
    snapshot = views.shown_run(visit.relay, known[run_id].snapshot) if run_id in known else None
    return render(
        visit,
        request,
        "run.html",
        source=source,
        run_id=run_id,
        state=known.get(run_id),
        snapshot=snapshot,
        output=views.output_text(snapshot) if snapshot else None,
        steps=steps,
        nav="runs",
    )


def status_filter(raw: str) -> DeliveryStatus | None:
    try:
        return DeliveryStatus(raw) if raw else None
    except ValueError:
        return None


@signed_in
async def deliveries(request: Request, visit: Visit) -> Response:
    q = request.query_params
    status, channel = status_filter(q.get("status", "")), q.get("channel", "")
    found = await views.filtered_deliveries(visit.relay, status, channel)
    return render(
        visit,
        request,
        "deliveries.html",
        rows=views.delivery_rows(found),
        statuses=[s.value for s in DeliveryStatus],
        channels=sorted(visit.relay.ruleset.channels),
        status=status.value if status else "",
        channel=channel,
        limit=views.SHOWN,
        nav="deliveries",
    )


@signed_in
async def delivery(request: Request, visit: Visit) -> Response:
    found = await visit.relay.store.delivery(request.path_params["id"])
    if found is None:
        return render(visit, request, "problem.html", 404, message="No such delivery.", nav="deliveries")
    return render(
        visit,
        request,
        "delivery.html",
        d=found,
        run=views.run_ref(found),
        attempts=await visit.relay.store.attempts(found.id),
        payload=views.payload_text(found),
        nav="deliveries",
    )


@signed_in
async def confirm_bulk(request: Request, visit: Visit) -> Response:
    """How many dead letters a bulk replay would send again, before it does."""
    channel = request.query_params.get("channel", "")
    found = await views.filtered_deliveries(visit.relay, DeliveryStatus.DEAD, channel, views.SCAN)
    return render(
        visit, request, "bulk.html", channel=channel, count=len(found), cap=views.SCAN, nav="deliveries"
    )


@signed_in
async def silences(request: Request, visit: Visit) -> Response:
    return await silences_page(request, visit)


async def silences_page(
    request: Request,
    visit: Visit,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    preview: list[views.DeliveryRow] | None = None,
) -> Response:
    now = visit.relay.clock.now()
    every = await visit.relay.store.silences()
    active = [s for s in every if s.ends_at > now]
    ended = sorted((s for s in every if s.ends_at <= now), key=lambda s: s.ends_at, reverse=True)[:20]
    return render(
        visit,
        request,
        "silences.html",
        status,
        active=active,
        ended=ended,
        keys=MATCHER_KEYS,
        error=error,
        form=form or {},
        preview=preview,
        nav="silences",
    )


@signed_in
async def rules(request: Request, visit: Visit) -> Response:
    rows, capped = await views.rules(visit.relay)
    suppressed = await visit.relay.store.suppressed_counts()
    return render(
        visit,
        request,
        "rules.html",
        rows=rows,
        capped=capped,
        path=visit.relay.ruleset.path,
        nav="rules",
        suppressed=suppressed,
        reasons=REASONS,
    )
