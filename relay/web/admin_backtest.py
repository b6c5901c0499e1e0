"""POST /admin/backtest: a candidate rules.yaml (as text) against the transitions recorded since
a time, beside the rules in force (relay/backtest.py). Nothing is sent, nothing is written.
An invalid candidate is a 422 naming `candidate.yaml` and the line, as /admin/reload does."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay.backtest import backtest as run_backtest
from relay.backtest import load_candidate
from relay.durations import parse_duration
from relay.errors import ConfigError
from relay.secrets import redact
from relay.service import Relay
from relay.web.admin import Invalid, _json_object, _text, endpoint
from relay.web.responses import error

FIELDS = {"rules", "since"}
MAX_SINCE = timedelta(days=365)


def since_of(value: str | None) -> timedelta:
    """`7d`, `12h`, ... (default 7d), more than 0 and at most 365 days."""
    try:
        seconds = parse_duration(value or "7d")
    except ValueError as exc:
        raise Invalid(f"since: {str(exc)[:120]}") from None
    if not 0 < seconds <= MAX_SINCE.total_seconds():
        raise Invalid(f"since must be more than 0 and at most {MAX_SINCE.days}d")
    return timedelta(seconds=seconds)


@endpoint()
async def backtest(request: Request, relay: Relay) -> Response:
    """POST {"rules": "<a rules.yaml>", "since"?: "7d"}."""
    body = await _json_object(request, relay, FIELDS)
    text, span = _text(body, "rules"), since_of(_text(body, "since"))
    if not text:
        raise Invalid('expected {"rules": "<the candidate rules.yaml>", "since": "7d"}')
    try:
        candidate = load_candidate(text)
    except ConfigError as exc:
        return error(422, redact(str(exc)), file=exc.file, line=exc.line)
    since = relay.clock.now() - span
    return JSONResponse(await run_backtest(relay.ruleset, candidate, relay.store, since))
