"""The console's forms (POST) and the sign-in page. Each form checks its CSRF token first
(guard.form_action); bad input re-renders the form with what is wrong and changes nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from relay.console import session, views
from relay.console.guard import (
    COOKIE,
    PATH,
    SIGNIN_COOKIE,
    Form,
    Visit,
    clear_cookie,
    form_action,
    key_of,
    off,
    read_form,
    refused,
    safe_next,
    set_cookie,
    visit_of,
)
from relay.console.pages import render, silences_page
from relay.console.render import page, with_headers
from relay.console.throttle import SigninThrottle
from relay.durations import parse_duration
from relay.models import DeliveryStatus
from relay.service import Relay
from relay.silences import MATCHER_KEYS, new_silence

log = logging.getLogger("relay.console")
MAX_SILENCE = timedelta(days=365)


def _to(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


async def signin(request: Request) -> Response:
    """GET: the form (with a signed cookie its CSRF token is tied to). POST: check the token."""
    relay: Relay = request.app.state.relay
    key = key_of(relay)
    if key is None:
        return off()
    target = safe_next(request.query_params.get("next"))
    if visit_of(request, relay, key) is not None:
        return with_headers(_to(target))
    if request.method == "POST":
        return with_headers(await _check_signin(request, relay, key, target))
    nonce = session.new_nonce()
    response = _signin_page(key, nonce, target)
    set_cookie(response, request, SIGNIN_COOKIE, seal_signin(key, nonce, relay), session.SIGNIN_SECONDS)
    return response


def seal_signin(key: bytes, nonce: str, relay: Relay) -> str:
    return session.seal(key, session.SIGNIN, nonce, relay.clock.now(), session.SIGNIN_SECONDS)


def _signin_page(
    key: bytes, nonce: str, target: str, status: int = 200, error: str | None = None
) -> Response:
    csrf = session.csrf_token(key, nonce)
    return page("signin.html", status, visit=None, csrf=csrf, next=target, error=error, notice=None)


async def _check_signin(request: Request, relay: Relay, key: bytes, target: str) -> Response:
    form = await read_form(request, relay)
    if isinstance(form, Response):
        return form
    now = relay.clock.now()
    pre = session.unseal(key, session.SIGNIN, request.cookies.get(SIGNIN_COOKIE), now)
    if pre is None or not session.csrf_ok(key, pre.nonce, form.get("csrf")):
        return refused(
            "This sign-in form expired or did not come from this console. Reload it and try again."
        )
    throttle: SigninThrottle = request.app.state.signin_throttle
    client = request.client.host if request.client else "-"
    if wait := throttle.retry_after(client, now):
        log.warning("console_signin_throttled client=%s retry_after=%d", client, wait)
        answer = _signin_page(key, pre.nonce, target, 429, f"Too many wrong tokens: try again in {wait} s.")
        answer.headers["retry-after"] = str(wait)
        return answer
    if not session.token_ok(form.get("token", ""), relay.settings.admin_token):
        throttle.failed(client, now)
        log.warning("console_signin_refused client=%s", client)
        return _signin_page(key, pre.nonce, target, 401, "That is not the admin token.")
    throttle.succeeded(client)
    response = _to(safe_next(form.get("next")))
    sealed = session.seal(key, session.SESSION, session.new_nonce(), now, session.SESSION_SECONDS)
    set_cookie(response, request, COOKIE, sealed, session.SESSION_SECONDS)
    clear_cookie(response, request, SIGNIN_COOKIE)
    log.info("console_signin")
    return response


@form_action
async def signout(request: Request, visit: Visit, form: Form) -> Response:
    response = _to(f"{PATH}/signin")
    clear_cookie(response, request, COOKIE)
    return response


@form_action
async def replay(request: Request, visit: Visit, form: Form) -> Response:
    delivery_id = request.path_params["id"]
    if not await visit.relay.replay(delivery_id):
        return render(visit, request, "problem.html", 404, message="No dead or sent delivery with this id.")
    return _to(f"{PATH}/deliveries/{quote(delivery_id, safe='')}?notice=replayed")


@form_action
async def bulk_replay(request: Request, visit: Visit, form: Form) -> Response:
    """The dead letters matching the filter confirmed, as they stand now."""
    channel = form.get("channel", "")
    found = await views.filtered_deliveries(visit.relay, DeliveryStatus.DEAD, channel, views.SCAN)
    replayed = sum([await visit.relay.replay(d.id) for d in found])
    log.info("console_bulk_replay channel=%s deliveries=%d", channel or "*", replayed)
    query = urlencode({"channel": channel, "notice": "bulk", "n": replayed})
    return _to(f"{PATH}/deliveries?{query}")


@form_action
async def add_silence(request: Request, visit: Visit, form: Form) -> Response:
    matchers = {k: v.strip() for k in MATCHER_KEYS if (v := form.get(k, "")).strip()}
    if form.get("preview"):
        return await _preview(request, visit, form, matchers)
    now = visit.relay.clock.now()
    try:
        raw = form.get("duration", "").strip()
        if not raw:
            raise ValueError("give a duration, e.g. 2h or 30m")
        seconds = parse_duration(raw)
        if not 0 < seconds <= MAX_SILENCE.total_seconds():
            raise ValueError(f"the duration must be more than 0 and at most {MAX_SILENCE.days}d")
        silence = new_silence(
            matchers, now, now + timedelta(seconds=seconds), form.get("comment", "")[:500], "console"
        )
    except ValueError as exc:
        return await silences_page(request, visit, 422, str(exc)[:200], form)
    await visit.relay.add_silence(silence)
    return _to(f"{PATH}/silences?notice=silenced")


@form_action
async def expire_silence(request: Request, visit: Visit, form: Form) -> Response:
    if not await visit.relay.expire_silence(request.path_params["id"]):
        return render(visit, request, "problem.html", 404, message="No active silence with this id.")
    return _to(f"{PATH}/silences?notice=expired")


async def _preview(request: Request, visit: Visit, form: Form, matchers: dict[str, str]) -> Response:
    """What a silence with these matchers would have muted in the last 24 h; creates nothing."""
    shown = {k: v[:200] for k, v in form.items() if k != "csrf"}
    try:
        preview = await views.would_mute(visit.relay, matchers)
    except ValueError as exc:
        return await silences_page(request, visit, 422, str(exc)[:200], shown)
    return await silences_page(request, visit, form=shown, preview=preview)
