"""The Rules page (GET) and its backtest form (POST): a candidate rules.yaml pasted in, run
against the recorded transitions beside the rules in force (relay/backtest.py), the answer shown
under the form. Nothing is sent and nothing is written; an invalid candidate shows its line and
error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from relay.backtest import backtest, load_candidate
from relay.console import views
from relay.console.guard import Form, Visit, form_action, signed_in
from relay.console.pages import render
from relay.errors import ConfigError
from relay.render.suppressed import REASONS
from relay.secrets import redact

PERIODS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


async def rules_page(
    request: Request, visit: Visit, code: int = 200, form: Form | None = None, **shown: Any
) -> Response:
    """The Rules page, with the backtest form as sent and its answer (or error)."""
    rows, capped = await views.rules(visit.relay)
    suppressed = await visit.relay.store.suppressed_counts()
    return render(
        visit,
        request,
        "rules.html",
        code,
        rows=rows,
        capped=capped,
        path=visit.relay.ruleset.path,
        nav="rules",
        suppressed=suppressed,
        reasons=REASONS,
        periods=list(PERIODS),
        form=form or {},
        **({"result": None, "error": None} | shown),
    )


@signed_in
async def page(request: Request, visit: Visit) -> Response:
    return await rules_page(request, visit)


@form_action
async def run(request: Request, visit: Visit, form: Form) -> Response:
    text, period = form.get("rules", ""), form.get("since", "7d")
    shown = {"rules": text, "since": period}
    if period not in PERIODS:
        return await rules_page(request, visit, 422, shown, error="Choose a period: 1d, 7d or 30d.")
    if not text.strip():
        return await rules_page(request, visit, 422, shown, error="Paste a rules file to backtest.")
    try:
        candidate = load_candidate(text)
    except ConfigError as exc:
        return await rules_page(request, visit, 422, shown, error=redact(str(exc)))
    relay = visit.relay
    found = await backtest(relay.ruleset, candidate, relay.store, relay.clock.now() - PERIODS[period])
    return await rules_page(request, visit, 200, shown, result=found)
