"""Trigger.dev's management API as a poller needs it: list runs (GET /api/v1/runs), retrieve
one (GET /api/v3/runs/{runId}), and download an offloaded output from its presigned URL.

Requests carry `x-trigger-api-version: 2025-07-16` (the SDK's vocabulary, also the
webhooks'). Rate limit (1,500 a minute per environment, `x-ratelimit-*` headers): a 429
waits for `x-ratelimit-reset` (Unix ms), else Retry-After, else the body's
`secondsUntilReset`. Below that, the last headers seen are kept per API key (`RateBudget`,
shared by every source using the key, and through the store by every replica): when the remaining
budget falls under a reserve, requests stop until the reset and the cycle ends as if rate
limited, so many sources stay under the limit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import httpx2

from relay import jsonin
from relay.clock import Clock
from relay.config import SourceConfig
from relay.errors import BadJson, RateLimited, SourceError
from relay.models import JSON
from relay.netguard import PUBLIC_ONLY, NetworkPolicy, fetch
from relay.sources.http import DEFAULT_RETRY_AFTER, ApiClient, parse_retry_after, what
from relay.sources.parsing import text, type_name
from relay.sources.state import MAX_RETRY_AFTER, RateBudget, header_int

API_VERSION = "2025-07-16"  # what the SDK sends; selects the new status vocabulary
LIST_PATH = "/api/v1/runs"
RETRIEVE_PATH = "/api/v3/runs/{run_id}"
MAX_OUTPUT_BYTES = 4 * 1024 * 1024  # an offloaded output larger than this is not stored


def retry_after_429(headers: Mapping[str, str], body: bytes, now: datetime) -> float:
    """x-ratelimit-reset (Unix ms) when ahead, else Retry-After, else the body's
    secondsUntilReset; a reset already past means at once (the caller waits a minimum)."""
    reset = header_int(headers.get("x-ratelimit-reset"))
    if reset is not None and reset / 1000.0 > now.timestamp():
        return min(reset / 1000.0 - now.timestamp(), MAX_RETRY_AFTER)
    if headers.get("retry-after"):
        return min(parse_retry_after(headers.get("retry-after"), now), MAX_RETRY_AFTER)
    try:
        seconds = json.loads(body).get("secondsUntilReset")
    except (ValueError, AttributeError):
        seconds = None
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and 0 <= seconds < math.inf:
        return min(float(seconds), MAX_RETRY_AFTER)
    return 0.0 if reset is not None else DEFAULT_RETRY_AFTER


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunPage:
    items: list[object]
    next: str | None


class TriggerClient(ApiClient):
    """The two endpoints a poller needs, with a bearer secret key (tr_dev_, tr_prod_, ...)."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        budget: RateBudget,
        timeout: float = 15.0,
        clock: Clock | None = None,
        api_version: str | None = API_VERSION,
        network: NetworkPolicy = PUBLIC_ONLY,
    ) -> None:
        super().__init__(http, base_url=base_url, api_key=api_key, timeout=timeout, clock=clock)
        self._network = network  # where presigned output URLs may point
        self._version = api_version
        self.budget = budget

    @classmethod
    def for_source(
        cls, config: SourceConfig, http: httpx2.AsyncClient, clock: Clock, budget: RateBudget
    ) -> TriggerClient:
        return cls(
            http,
            base_url=config.base_url,
            api_key=config.api_key,
            clock=clock,
            network=config.network,
            budget=budget,
        )

    def credentials(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"}

    async def list_runs(self, created_from: datetime, page_size: int, after: str | None = None) -> RunPage:
        """One page, newest first: raw items (parse_retrieved validates them) and the cursor."""
        params = {"page[size]": str(page_size), "filter[createdAt][from]": iso(created_from)}
        if after:
            params["page[after]"] = after
        response = await self.send(LIST_PATH, params)
        body = self.json(response)
        items = self.listed(response, body, "data")
        pagination = body.get("pagination") if isinstance(body, dict) else None
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        return RunPage(items, cursor if text(cursor) else None)

    async def get_run(self, run_id: str) -> JSON | None:
        """The run with output and error; None when Trigger.dev answers 404."""
        response = await self.send(RETRIEVE_PATH.format(run_id=quote(run_id, safe="")))
        if response.status_code == 404:
            return None
        body = self.json(response)
        if not isinstance(body, dict):
            raise SourceError(f"{what(response)}: the body is {type_name(body)}, not a run")
        return body

    def headers(self) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if self._version:
            headers["x-trigger-api-version"] = self._version
        return headers

    async def before_send(self) -> None:
        """Held back while the key's budget is at its reserve."""
        await self.budget.load()
        wait = self.budget.pause(self._clock.now().timestamp())
        if wait > 0:
            raise RateLimited(
                f"rate budget low ({self.budget.remaining} of {self.budget.limit} left), holding off"
                f" {wait:.3g}s until it resets",
                wait,
            )
        self.budget.spend()

    async def after_send(self, response: httpx2.Response) -> None:
        self.budget.update(response.headers)
        await self.budget.save()

    def retry_after(self, response: httpx2.Response) -> float:
        return retry_after_429(response.headers, response.content, self._clock.now())

    async def fetch_output(self, url: str) -> JSON:
        """An offloaded output (over 512 KB) from its presigned URL: no credentials sent, at
        most MAX_OUTPUT_BYTES, only from where relay.netguard allows (the URL is run data).
        A superjson packet ({"json": ..., "meta": ...}) is unwrapped."""
        try:
            response = await fetch(self.client(), url, self._network, timeout=self._timeout)
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            raise SourceError(f"GET output failed: {type(exc).__name__}: {exc or 'no detail'}") from exc
        try:
            raw = await self._read_capped(response)
        finally:
            await response.aclose()
        try:
            value = jsonin.loads(raw)
        except BadJson as exc:
            raise SourceError(f"the offloaded output is not JSON the relay takes: {exc}") from None
        if isinstance(value, dict) and "json" in value and set(value) <= {"json", "meta"}:
            value = value["json"]
        if not isinstance(value, dict):
            raise SourceError(f"the offloaded output is {type_name(value)}, not an object")
        return value

    async def _read_capped(self, response: httpx2.Response) -> bytes:
        if not 200 <= response.status_code < 300:
            raise SourceError(f"GET output: HTTP {response.status_code} (a presigned URL lasts 5 minutes)")
        chunks, size = [], 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_OUTPUT_BYTES:
                    raise SourceError(f"the offloaded output is larger than {MAX_OUTPUT_BYTES} bytes")
                chunks.append(chunk)
        except httpx2.HTTPError as exc:
            raise SourceError(f"GET output failed: {type(exc).__name__}: {exc or 'no detail'}") from exc
        return b"".join(chunks)
