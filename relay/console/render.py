"""Templates and the headers of every console answer.

Autoescape is on for every template: task names, errors, outputs and URLs come from the
platforms and the receivers, and must show as text. The Content-Security-Policy allows no
inline script at all, so even a value that escaped escaping could not run."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse, Response

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
ASSET_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float | None) -> str:
    """A lag or an age, as a person reads it: 42s, 3m 05s, 2h 10m, 3d 4h."""
    if value is None:
        return "—"
    s = int(value)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def web_link(value: object) -> str | None:
    """A URL a page may link to: http(s) only (never javascript:, data:, ...)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


ENV = Environment(
    loader=PackageLoader("relay.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(iso=iso, utc=utc, seconds=seconds, web_link=web_link)


def page(template: str, code: int = 200, **context: Any) -> HTMLResponse:
    html = ENV.get_template(template).render(code=code, **context)
    return HTMLResponse(html, status_code=code, headers=SECURITY_HEADERS)


def with_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _assets() -> dict[str, tuple[bytes, str]]:
    found = {}
    for item in files("relay.console").joinpath("static").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if suffix in ASSET_TYPES:
            found[item.name] = (item.read_bytes(), ASSET_TYPES[suffix])
    return found


ASSETS = _assets()  # read once: a handful of small files
# the icon inline: a favicon loads after the page and would be cut off by a quick click away
ENV.globals["icon"] = "data:image/svg+xml;base64," + base64.b64encode(ASSETS["icon.svg"][0]).decode()
