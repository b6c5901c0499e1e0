"""The one API client base every platform's client builds on.

What the requests to a platform share: the credential in the platform's header (never a
shared client's default `Authorization`), no redirects (a credential must not follow us to
another host), a timeout, a count of the requests sent, and one error mapping:

    SourceError          the platform could not be asked, or answered what we cannot use
     └── RateLimited     HTTP 429 (and, where the platform says so, a 503 with Retry-After):
                         wait `retry_after` seconds

An error names the request and quotes the answer: RFC 9457 problem+json's title, detail and
first field errors, else a whitespace-folded, redacted excerpt of the body, with the API key
replaced by *** before anything is cut (so no prefix of it survives at the edge).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from relay import jsonin
from relay.clock import Clock, SystemClock
from relay.errors import RateLimited, SourceError
from relay.secrets import redact
from relay.sources.parsing import text

DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 carries no usable Retry-After
EXCERPT_CHARS = 200
_MISSING: Any = object()


def parse_retry_after(value: str | None, now: datetime) -> float:
    """Retry-After is delta-seconds or an HTTP date; anything unusable means the default."""
    if not value or not value.strip():
        return DEFAULT_RETRY_AFTER
    stripped = value.strip()
    try:
        seconds = float(stripped)
    except ValueError:
        seconds = _seconds_until(stripped, now)
    if not math.isfinite(seconds) or seconds < 0:
        return DEFAULT_RETRY_AFTER
    return seconds


def _seconds_until(http_date: str, now: datetime) -> float:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return math.nan
    if when.tzinfo is None:  # "-0000" means UTC with unknown origin
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def what(response: httpx2.Response) -> str:
    """The request as errors name it: method and path with its query."""
    return "GET " + response.request.url.raw_path.decode("ascii", "replace")


class ApiClient:
    """GET requests to one platform's API. Subclasses say how the key is sent (`credentials`)
    and may read a 429 their own way (`retry_after`)."""

    busy_means_wait = False  # True: a 503 with Retry-After is a rate limit too

    def __init__(
        self,
        http: httpx2.AsyncClient | None,
        *,
        base_url: str,
        api_key: str = "",
        timeout: float = 15.0,
        clock: Clock | None = None,
    ) -> None:
        self._http, self._api_key, self._timeout = http, api_key, timeout
        self._base = base_url.rstrip("/")
        self._clock: Clock = clock or SystemClock()
        self.requests = 0  # API requests sent

    def credentials(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def client(self) -> httpx2.AsyncClient:
        assert self._http is not None, "no HTTP client to send with"
        return self._http

    def where(self, url: str) -> str:
        return url

    def headers(self) -> dict[str, str]:
        """The headers of every request but the credentials (a stream brings its own)."""
        return {"accept": "application/json"}

    async def before_send(self) -> None:
        """May raise RateLimited to hold a request back."""

    async def after_send(self, response: httpx2.Response) -> None:
        """Sees every answer, whatever its status."""

    async def send(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | httpx2.Timeout | None = None,
        stream: bool = False,
    ) -> httpx2.Response:
        """The answer, whatever its status (see `check`). Raises SourceError when no answer came."""
        await self.before_send()
        url = self._base + path
        http = self.client()
        try:
            request = http.build_request(
                "GET",
                url,
                params=params or {},
                headers=headers or self.headers(),
                timeout=self._timeout if timeout is None else timeout,
            )
            request.headers.pop("authorization", None)  # never a shared client's default
            request.headers.update(self.credentials())
            self.requests += 1
            response = await http.send(request, auth=None, follow_redirects=False, stream=stream)
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            detail = str(exc) or "no detail"
            raise SourceError(f"GET {self.where(url)} failed: {type(exc).__name__}: {detail}") from exc
        await self.after_send(response)
        return response

    def retry_after(self, response: httpx2.Response) -> float:
        return parse_retry_after(response.headers.get("retry-after"), self._clock.now())

    def check(self, response: httpx2.Response, *, missing_ok: bool = False) -> None:
        """Raises RateLimited for a 429, SourceError for any other status but 2xx (and a 404
        when `missing_ok`)."""
        status = response.status_code
        if status == 429 or (self.busy_means_wait and status == 503 and "retry-after" in response.headers):
            wait = self.retry_after(response)
            raise RateLimited(
                f"{what(response)}: HTTP {status}: {self.explain(response)}, retry after {wait:.3g}s", wait
            )
        if not 200 <= status < 300 and not (missing_ok and status == 404):
            raise SourceError(f"{what(response)}: HTTP {status}: {self.explain(response)}")

    def json(self, response: httpx2.Response) -> object:
        """The checked answer's JSON body."""
        self.check(response)
        try:
            return jsonin.loads(response.content)
        except ValueError:
            status = response.status_code
            raise SourceError(
                f"{what(response)}: invalid JSON (HTTP {status}): {self.excerpt(response)}"
            ) from None

    def listed(
        self, response: httpx2.Response, body: object, key: str, *, null_is_empty: bool = False
    ) -> list[object]:
        """body[key], which must be a list (Go's nil slice, null, is none when `null_is_empty`)."""
        items = body.get(key, _MISSING) if isinstance(body, dict) else _MISSING
        if items is None and null_is_empty:
            return []
        if not isinstance(items, list):
            status = response.status_code
            raise SourceError(
                f"{what(response)}: no {key} list in the body (HTTP {status}): {self.excerpt(response)}"
            )
        return items

    def explain(self, response: httpx2.Response) -> str:
        """problem+json (RFC 9457): title, detail and the first field errors; else an excerpt."""
        found = problem(response)
        return self.clean(found) if found else self.excerpt(response)

    def excerpt(self, response: httpx2.Response) -> str:
        body = response.text.replace(self._api_key, "***") if self._api_key else response.text
        folded = self.clean(" ".join(body[: EXCERPT_CHARS * 20].split()))
        return (folded[:EXCERPT_CHARS] + "...") if len(folded) > EXCERPT_CHARS else folded or "(empty)"

    def clean(self, message: str) -> str:
        if self._api_key:  # before cutting, so no prefix of the key survives at the edge
            message = message.replace(self._api_key, "***")
        return redact(message)


def problem(response: httpx2.Response) -> str | None:
    try:
        body = jsonin.loads(response.content)
    except ValueError:
        return None
    is_problem = "problem+json" in response.headers.get("content-type", "")
    if not isinstance(body, dict) or not (is_problem or "title" in body or "detail" in body):
        return None
    parts = [p for p in (text(body.get("title")), text(body.get("detail"))) if p]
    errors = body.get("errors")
    found = [
        ": ".join(t for t in (text(e.get("location")), text(e.get("message"))) if t)
        for e in (errors[:3] if isinstance(errors, list) else [])
        if isinstance(e, dict)
    ]
    if found := [f for f in found if f]:
        parts.append("; ".join(found))
    return ": ".join(parts) or None
