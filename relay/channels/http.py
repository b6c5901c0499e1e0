"""The one place outbound HTTP is set up, so the transport stays a single, swappable choice.

aiohttp, chosen by measurement (docs/benchmarks.md, "Delivery transport"): one process posting
small JSON to a loopback receiver made ~2,500-4,800 requests/s with aiohttp's ClientSession,
~1,000-2,200 with the httpx2 API over the httpx-aiohttp transport and ~550-700 with httpx2's
default transport, which also slows down as more requests are in flight.

One client per channel (one destination host each); its session is opened on first use,
inside the running event loop, and keeps connections alive between deliveries.
"""

from __future__ import annotations

import email.utils
import time
import urllib.parse
import urllib.request
from datetime import UTC

import aiohttp

from relay.channels.base import Response, excerpt

MAX_CONNECTIONS = 32  # per channel; the delivery worker's concurrency bounds it too
MAX_READ = 64 * 1024  # of a receiver's answer: only an excerpt is kept


class Client:
    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                timeout=self._timeout,
                headers={"user-agent": "run-relay"},
                cookie_jar=aiohttp.DummyCookieJar(),  # receivers' cookies are never sent back
                # not trust_env: it reads ~/.netrc and the proxy variables on every request
                # (3-4x slower here); the proxy variables are honoured by `proxy_for` instead
            )
        return self._session

    def proxy_for(self, url: str) -> str | None:
        """HTTP(S)_PROXY / NO_PROXY from the environment, read once per destination."""
        if url not in self._proxies:
            proxies = urllib.request.getproxies()
            parts = urllib.parse.urlsplit(url)
            bypass = urllib.request.proxy_bypass(parts.hostname or "")
            self._proxies[url] = None if bypass else proxies.get(parts.scheme)
        return self._proxies[url]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def new_client(timeout: float) -> Client:
    return Client(timeout)


async def post(client: Client, url: str, content: bytes, headers: dict[str, str]) -> Response:
    try:
        session, proxy = client.session(), client.proxy_for(url)
        async with session.post(
            url, data=content, headers=headers, allow_redirects=False, proxy=proxy
        ) as answer:
            text = (await answer.content.read(MAX_READ)).decode("utf-8", "replace")
            status, wait = answer.status, answer.headers.get("retry-after")
    except (aiohttp.ClientError, TimeoutError) as exc:
        name = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return Response(ok=False, error=name, excerpt=excerpt(str(exc)) or None)
    return Response(
        ok=200 <= status < 300,
        http_status=status,
        excerpt=excerpt(text) if text else None,
        retry_after=retry_after(wait),
    )


def retry_after(value: str | None) -> float | None:
    """Retry-After is delay-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())
