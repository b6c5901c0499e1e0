"""Every console page and form behind the admin token.

- No RELAY_ADMIN_TOKEN: every console path answers 404 (the console is off, as the admin API).
- A page without a valid session cookie redirects to the sign-in page.
- A form (POST) needs the session and its CSRF token: without either it is a 403 and nothing
  is read or written beyond the form itself.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from relay.console import session
from relay.console.render import page, with_headers
from relay.errors import IngestError
from relay.service import Relay
from relay.web.bodies import read_body
from relay.web.params import nul_in

COOKIE = "relay_console"
SIGNIN_COOKIE = "relay_console_signin"
PATH = "/console"
MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 40
NUL = "This address or form holds a NUL character, which nothing here can hold. Nothing was changed."
OFF = "the console is off: set RELAY_ADMIN_TOKEN to turn it on (and the admin API with it)"


@dataclass(frozen=True)
class Visit:
    """A signed-in request: the relay, the key, and the CSRF token its forms carry."""

    relay: Relay
    key: bytes
    nonce: str
    csrf: str


Form = dict[str, str]
PageHandler = Callable[[Request, Visit], Awaitable[Response]]
ActionHandler = Callable[[Request, Visit, Form], Awaitable[Response]]


def off() -> Response:
    return with_headers(PlainTextResponse(OFF, status_code=404))


def key_of(relay: Relay) -> bytes | None:
    token = relay.settings.admin_token
    return session.derive_key(token) if token else None


def visit_of(request: Request, relay: Relay, key: bytes) -> Visit | None:
    signed = session.unseal(key, session.SESSION, request.cookies.get(COOKIE), relay.clock.now())
    if signed is None:
        return None
    return Visit(relay, key, signed.nonce, session.csrf_token(key, signed.nonce))


def _arrival(request: Request) -> tuple[bytes, Visit | None] | None:
    """The console's key and the request's session (None: not signed in); None when the
    console is off."""
    relay: Relay = request.app.state.relay
    key = key_of(relay)
    return None if key is None else (key, visit_of(request, relay, key))


def signed_in(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """A page: 404 when the console is off, to the sign-in page without a session."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        if (arrival := _arrival(request)) is None:
            return off()
        _, visit = arrival
        if (where := nul_in(request)) is not None:
            return problem(404 if where == "path" else 400, NUL)
        if visit is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return to_signin(target)
        return with_headers(await handler(request, visit))

    return run


def form_action(handler: ActionHandler) -> Callable[[Request], Awaitable[Response]]:
    """A form's POST: 404 when off; 403 without a session or with a missing or wrong CSRF
    token; 400 for a body that is no form."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        if (arrival := _arrival(request)) is None:
            return off()
        key, visit = arrival
        if nul_in(request) is not None:
            return problem(404, NUL)
        if visit is None:
            return refused("You are not signed in (or your session expired). Sign in and try again.")
        form = await read_form(request, visit.relay)
        if isinstance(form, Response):
            return form
        if not session.csrf_ok(key, visit.nonce, form.get("csrf")):
            return refused("This form's security token is missing or wrong. Reload the page and try again.")
        return with_headers(await handler(request, visit, form))

    return run


async def read_form(request: Request, relay: Relay) -> Form | Response:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}  # no form at all: no CSRF token either, so refused
    try:
        raw = await read_body(request, MAX_FORM_BYTES, relay.settings.client_timeout)
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except IngestError as exc:
        return problem(exc.status, exc.message)
    except (UnicodeDecodeError, ValueError):
        return problem(400, "The form could not be read.")
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        return problem(400, NUL)
    return dict(pairs)  # a field given twice: the last one


def refused(message: str) -> Response:
    return problem(403, message)


def problem(status: int, message: str) -> Response:
    return page("problem.html", status, message=message, visit=None)


def to_signin(target: str) -> Response:
    return RedirectResponse(f"{PATH}/signin?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(PATH) and not target.startswith("//") and "\\" not in target:
        return target
    return PATH


def set_cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
