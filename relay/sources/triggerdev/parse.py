"""Trigger.dev: runs polled through the management API, failures pushed by alert webhooks
(PLATFORMS.md 2 and 4.2).

Pull. One poll cycle, every `poll_every`:

1. re-check by id (GET /api/v3/runs/{runId}: status, output, error) every run the store holds
   as in flight, a bounded number per cycle, least recently re-checked first;
2. complete by id, once, the runs a webhook recorded as finished (an alert carries no output,
   duration or cost): the stored record is refreshed, no second notification;
3. when a sweep is due (every `sweep_every`) or one is unfinished, discover new runs with
   GET /api/v1/runs, `filter[createdAt][from]` and the `page[after]` cursor, at most
   `max_pages` pages per cycle. Trigger.dev's docs say list calls scan the whole window and
   count against the rate limit, so sweeps are rarer than re-checks and incremental: the first
   sweep of a process covers `sweep_window` (longer than the longest run, so every run in
   flight is found after a restart), later ones start a margin before the previous one.

Requests carry `x-trigger-api-version: 2025-07-16` (the SDK's vocabulary, also the webhooks');
either vocabulary is understood (`trigger_phase`). A cycle costs one request per list page and
one per run re-checked or completed (`PollReport.requests`; downloads of offloaded outputs
from presigned storage URLs are not API requests and are not counted).

Rate limit (1,500 a minute per environment, `x-ratelimit-*` headers): a 429 waits for
`x-ratelimit-reset` (Unix ms), else Retry-After, else the body's `secondsUntilReset`. Below
that, the last headers seen are kept per API key (`RateBudget`, shared by every source using
the key in this process): when the remaining budget falls under a reserve, requests stop until
the reset and the cycle ends as if rate limited, so many sources stay under the limit.

Push. Alert webhooks (`alert.run.failed`, payload v1 and v2) signed with
hex(HMAC-SHA256(webhook_secret, raw body)) in `x-trigger-signature-hmacsha256`; the relay's own
shape (a run object or {"runs": [...]}) with a Standard Webhooks signature. See `authenticate`
and `parse_webhook` for replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx2

from relay import jsonin
from relay.clock import Clock, SystemClock
from relay.durations import parse_duration
from relay.errors import BadJson, ConfigError, RateLimited, SourceError
from relay.lifecycle import TRIGGER_STATUSES, trigger_phase
from relay.models import JSON, Phase, RunError, Snapshot, Via
from relay.netguard import PUBLIC_ONLY, NetworkPolicy, fetch
from relay.rules.config import MIN_POLL_EVERY, SourceConfig
from relay.secrets import redact
from relay.signing import SignatureError
from relay.sources import health
from relay.sources.base import Ingest, PollReport, SourceKind, standard_webhooks
from relay.sources.polling import MIN_WAIT, poll_forever
from relay.sources.recoup import (
    DEFAULT_RETRY_AFTER,
    _run_id,
    _short,
    _tags,
    _timestamp,
    _type_name,
    parse_retry_after,
    parse_run,
    parse_webhook_body,
)
from relay.store.base import Store

log = logging.getLogger("relay.sources.triggerdev")

API_VERSION = "2025-07-16"  # what the SDK sends; selects the new status vocabulary
LIST_PATH = "/api/v1/runs"
RETRIEVE_PATH = "/api/v3/runs/{run_id}"
CLOUD_RUN_URL = "https://cloud.trigger.dev/projects/v3/{project_ref}/runs/{{run_id}}"
SIGNATURE_HEADER = "x-trigger-signature-hmacsha256"
RUN_FAILED = "alert.run.failed"

DEFAULT_SWEEP_WINDOW = 24 * 3600.0  # seconds of createdAt a first sweep covers
DEFAULT_SWEEP_EVERY = 300.0
SWEEP_OVERLAP = 600.0  # a later sweep starts this long before the previous one started
PAGE_SIZES = (10, 100)  # page[size] as the OpenAPI document allows it
MAX_PAGES_PER_CYCLE = 5
MAX_PAGES_PER_SWEEP = 100  # a server handing out new cursors forever ends here
MAX_RECHECKS = 100  # by-id re-checks per cycle
MAX_COMPLETIONS = 20  # by-id completions of pushed runs per cycle
COMPLETION_TRIES = 3
MAX_RETRY_AFTER = 600.0  # a reset announced further away than this is not believed
BUDGET_RESERVE = 0.05  # of x-ratelimit-limit (at least BUDGET_RESERVE_MIN) kept for others
BUDGET_RESERVE_MIN = 10
MAX_OUTPUT_BYTES = 4 * 1024 * 1024  # an offloaded output larger than this is not stored
STACK_LIMIT = 3000  # characters, as Trigger.dev's own Slack alerts cut
STACK_NOISE = ("@trigger.dev/core", "node:internal", "(node:", "node_modules/@trigger.dev/")
EXCERPT_CHARS = 200
NOT_FOUND = "not found (HTTP 404)"
RECENT_ALERTS = 4096
_PROJECT_REF = re.compile(r"^[A-Za-z0-9_-]+$")


# -- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerOptions:
    """The kind-specific options of a source (SOURCE_KINDS["triggerdev"]), validated."""

    project_ref: str | None = None  # dashboard links: cloud.trigger.dev/projects/v3/{ref}/runs/{id}
    sweep_window: float = DEFAULT_SWEEP_WINDOW
    sweep_every: float = DEFAULT_SWEEP_EVERY

    @classmethod
    def of(cls, config: SourceConfig) -> TriggerOptions:
        """Raises ValueError naming the option (the caller names the source)."""
        options = config.options
        ref = options.get("project_ref")
        if ref is not None and (not isinstance(ref, str) or not _PROJECT_REF.match(ref)):
            raise ValueError(f"project_ref must look like proj_abc123, got {_short(ref)}")
        window = _duration(options, "sweep_window", DEFAULT_SWEEP_WINDOW)
        every = _duration(options, "sweep_every", DEFAULT_SWEEP_EVERY)
        if window <= every:
            raise ValueError(
                f"sweep_window ({window:g}s) must be longer than sweep_every ({every:g}s),"
                " and longer than the longest run"
            )
        return cls(ref, window, every)


def _duration(options: Mapping[str, Any], key: str, default: float) -> float:
    if options.get(key) is None:
        return default
    try:
        seconds = parse_duration(options[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    if not math.isfinite(seconds) or seconds < MIN_POLL_EVERY:
        raise ValueError(f"{key} must be at least {MIN_POLL_EVERY:g}s, got {seconds:g}s")
    return seconds


def check_options(config: SourceConfig) -> None:
    """SourceKind.check_options: rules.yaml is rejected (file and line) for invalid options."""
    TriggerOptions.of(config)


def run_url_template(config: SourceConfig) -> str | None:
    """`run_url` when set, else the Trigger.dev Cloud dashboard of the `project_ref` option."""
    if config.run_url:
        return config.run_url
    return run_url_template_for(config.options)


def run_url_template_for(project: Mapping[str, Any]) -> str | None:
    """The Cloud dashboard template of a project ref (`project_ref`, or an alert's project.ref)."""
    ref = project.get("project_ref", project.get("ref"))
    return CLOUD_RUN_URL.format(project_ref=ref) if isinstance(ref, str) and _PROJECT_REF.match(ref) else None


# -- parsing ---------------------------------------------------------------------------------


def parse_retrieved(obj: object, *, source: str, run_url: str | None = None) -> Snapshot:
    """A run from the list or retrieve endpoint (either vocabulary) -> Snapshot (via poll).

    Recoup passes Trigger.dev run objects through, so its `parse_run` reads them; the error's
    stack trace is trimmed here. Raises SourceError when the object cannot identify a run."""
    snapshot = parse_run(obj, source=source, via=Via.POLL, run_url=run_url)
    return replace(snapshot, error=trim_error(snapshot.error))


def is_alert(body: object) -> bool:
    """A Trigger.dev alert payload (v2: type/object; v1: task and run objects) rather than
    the relay's run shape."""
    if not isinstance(body, dict) or "runs" in body or "taskIdentifier" in body:
        return False
    if "webhookVersion" in body or isinstance(body.get("object"), dict):
        return True
    return isinstance(body.get("run"), dict) and isinstance(body.get("task"), dict)


def parse_alert(body: dict[str, Any], *, source: str, run_url: str | None = None) -> Snapshot | None:
    """An alert payload -> the failed run's Snapshot; None for alerts about something else
    (deployments, error groups). Raises SourceError when a run-failed alert is malformed.

    The run's status is the new vocabulary's; a failure alert whose status is missing, unknown
    or not terminal is still a failure (FAILED phase; the status is kept as sent)."""
    if "run" in body and "object" not in body:  # v1: {task, run, environment, project, error}
        return _alert_snapshot(body, body["run"], body.get("error"), source, run_url)
    kind = body.get("type")
    if not isinstance(kind, str):
        raise SourceError(f"alert: type must be a string, got {_short(kind)}")
    if kind != RUN_FAILED:
        return None
    obj = body.get("object")
    if not isinstance(obj, dict):
        raise SourceError(f"alert: object must be a JSON object, got {_type_name(obj)}")
    run = obj.get("run")
    error = run.get("error") if isinstance(run, dict) else None
    return _alert_snapshot(obj, run, error, source, run_url, created=body.get("created"))


def _alert_snapshot(
    context: dict[str, Any],
    run: object,
    error: object,
    source: str,
    run_url: str | None,
    created: object = None,
) -> Snapshot:
    if not isinstance(run, dict):
        raise SourceError(f"alert: run must be a JSON object, got {_type_name(run)}")
    run_id = _run_id(run, "alert run")
    where = f"alert run {run_id!r}"
    task = _obj(context.get("task"))
    task_id = next((task[k] for k in ("id", "exportName") if _text(task.get(k))), None)
    if task_id is None:
        raise SourceError(f"{where}: task.id is missing")
    status = run["status"] if _text(run.get("status")) else "FAILED"
    phase = trigger_phase(status)
    times = {k: _timestamp(run, k, where) for k in ("createdAt", "startedAt", "completedAt")}
    sent = _timestamp({"created": created}, "created", where)
    updated = times["completedAt"] or sent or times["startedAt"] or times["createdAt"]
    if updated is None:
        raise SourceError(f"{where}: no timestamp (completedAt, created, startedAt, createdAt)")
    project = _obj(context.get("project"))
    return Snapshot(
        source=source,
        run_id=run_id,
        task=task_id,
        status=status,
        phase=phase if phase.terminal else Phase.FAILED,
        updated_at=updated,
        via=Via.WEBHOOK,
        created_at=times["createdAt"],
        started_at=times["startedAt"],
        finished_at=times["completedAt"],
        tags=_tags(run.get("tags")),
        is_test=run.get("isTest") is True,
        metadata={"alert": _alert_context(context, run, task)},
        error=trim_error(task_run_error(error)),
        url=_dashboard_url(run, run_url or run_url_template_for(project), run_id),
    )


def _dashboard_url(run: dict[str, Any], template: str | None, run_id: str) -> str | None:
    url = run.get("dashboardUrl")
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return template.replace("{run_id}", quote(run_id, safe="")) if template else None


def _alert_context(context: dict[str, Any], run: dict[str, Any], task: dict[str, Any]) -> JSON:
    """What the alert says beyond the run: kept under metadata["alert"] until a poll replaces
    the snapshot with the run's own metadata."""
    env = _obj(context.get("environment"))
    project = _obj(context.get("project"))
    found = {
        "environment": env.get("slug") or env.get("type"),
        "project": project.get("ref") or project.get("slug"),
        "version": task.get("version"),
        "number": run.get("number"),
        "machine": run.get("machine"),
        "isOutOfMemoryError": run.get("isOutOfMemoryError"),
        "idempotencyKey": run.get("idempotencyKey"),
    }
    return {k: v for k, v in found.items() if isinstance(v, str | int | bool) and v != ""}


def task_run_error(value: object) -> RunError | None:
    """An alert's TaskRunError (BUILT_IN_ERROR {name, message, stackTrace}, STRING_ERROR and
    CUSTOM_ERROR {raw}, INTERNAL_ERROR {code, message?, stackTrace?}): the message, else raw,
    else the code; an internal error's code is its name."""
    if isinstance(value, str):
        return RunError(message=value) if value else None
    if not isinstance(value, dict):
        return None
    texts = {k: v for k, v in value.items() if _text(v)}
    message = next((texts[k] for k in ("message", "raw", "code") if k in texts), None)
    if message is None:
        return None
    name = texts.get("name") or (texts.get("code") if texts.get("code") != message else None)
    return RunError(message=message, name=name, stack_trace=texts.get("stackTrace"))


def trim_error(error: RunError | None) -> RunError | None:
    """Stack frames of Trigger.dev's own code and of node internals removed (#2097), the
    text capped at STACK_LIMIT characters."""
    if error is None or (not error.stack_trace and len(error.message) <= STACK_LIMIT):
        return error
    stack = error.stack_trace
    if stack:
        stack = "\n".join(line for line in stack.splitlines() if not any(n in line for n in STACK_NOISE))
        stack = _cap(stack) or None
    return replace(error, message=_cap(error.message), stack_trace=stack)


def _cap(text: str) -> str:
    note = "\n… truncated, see the dashboard for the complete error"
    return text if len(text) <= STACK_LIMIT else text[: STACK_LIMIT - len(note)] + note


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


# -- push: authentication and replays ----------------------------------------------------------


class RecentIds:
    """A bounded LRU of recently seen keys. In memory and per process: after a restart a
    replayed alert is only stopped by the pipeline itself (a finished run's stored phase is
    absorbing, so it cannot notify twice while the run is stored)."""

    def __init__(self, size: int = RECENT_ALERTS) -> None:
        self._size = size
        self._keys: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def seen(self, key: tuple[str, ...]) -> bool:
        """True if `key` was seen already; remembers it either way."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return False

    def clear(self) -> None:
        self._keys.clear()


recent_alerts = RecentIds()


def _hex_hmac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()


def authenticate(config: SourceConfig, headers: Mapping[str, str], body: bytes) -> None:
    """A Trigger.dev signature (x-trigger-signature-hmacsha256, alert payloads only), or else
    a Standard Webhooks signature (any accepted shape). Raises SignatureError.

    A Trigger.dev signature has no timestamp, so it is accepted only over alert payloads, whose
    ids are remembered against replays; run objects must come with Standard Webhooks, whose
    timestamp bounds a replay. When the Trigger.dev header is present, it alone decides."""
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        standard_webhooks(config, headers, body)
        return
    if not config.webhook_secrets:
        raise SignatureError("the source has no webhook_secret")
    got = signature.strip().lower().encode("utf-8", "replace")
    if not any(hmac.compare_digest(_hex_hmac(s, body), got) for s in config.webhook_secrets):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")
    try:
        alert = is_alert(jsonin.loads(body))
    except BadJson:
        return  # signed but not JSON the relay takes: the parser answers 400
    if not alert:
        raise SignatureError(
            f"{SIGNATURE_HEADER} is accepted on Trigger.dev alert payloads only;"
            " sign run objects with Standard Webhooks"
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


def parse_webhook(body: object, config: SourceConfig) -> list[Snapshot]:
    """An alert, or the relay's run shape (a run object or {"runs": [...]}).

    Replays: an alert already received (its `id`; a v1 alert has none, so its run id) is
    accepted and ignored: no snapshot, so the answer is 202 with `accepted: 0`. Trigger.dev
    retries a delivery whose answer it did not get; a 2xx ends that, where a 409 would make it
    retry twice more. Alerts about deployments or error groups are accepted and ignored too."""
    template = run_url_template(config)
    if not isinstance(body, dict) or not is_alert(body):
        snapshots = parse_webhook_body(body, source=config.name, run_url=template)
        return [replace(s, error=trim_error(s.error)) for s in snapshots]
    snapshot = parse_alert(body, source=config.name, run_url=template)
    if snapshot is None:
        log.info("alert_ignored source=%s type=%s", config.name, _short(body.get("type")))
        return []
    alert_id = body.get("id")
    key = ("alert", alert_id) if _text(alert_id) else ("run", snapshot.run_id)
    if recent_alerts.seen((config.name, *key)):
        log.warning("alert_replayed source=%s %s=%s (ignored)", config.name, key[0], _short(key[1]))
        return []
    return [snapshot]


# -- HTTP --------------------------------------------------------------------------------------


@dataclass
class RateBudget:
    """The last `x-ratelimit-*` headers seen for one API key (one Trigger.dev environment)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # Unix seconds

    def update(self, headers: Mapping[str, str]) -> None:
        limit, remaining = _int(headers.get("x-ratelimit-limit")), _int(headers.get("x-ratelimit-remaining"))
        reset = _int(headers.get("x-ratelimit-reset"))
        if remaining is not None:
            self.limit, self.remaining = limit or self.limit, remaining
            self.reset_at = reset / 1000.0 if reset is not None else self.reset_at

    def spend(self) -> None:
        if self.remaining is not None:
            self.remaining = max(0, self.remaining - 1)

    def pause(self, now: float) -> float:
        """Seconds to hold off before the next request: 0 unless the budget is at its reserve."""
        if self.remaining is None or self.reset_at is None or now >= self.reset_at:
            return 0.0
        reserve = max(BUDGET_RESERVE_MIN, int((self.limit or 0) * BUDGET_RESERVE))
        return min(self.reset_at - now, MAX_RETRY_AFTER) if self.remaining <= reserve else 0.0


_budgets: dict[str, RateBudget] = {}


def shared_budget(base_url: str, api_key: str) -> RateBudget:
    """One budget per API key in this process: Trigger.dev's bucket is per environment."""
    digest = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()
    return _budgets.setdefault(digest, RateBudget())


def retry_after_429(headers: Mapping[str, str], body: bytes, now: datetime) -> float:
    """x-ratelimit-reset (Unix ms) when ahead, else Retry-After, else the body's
    secondsUntilReset; a reset already past means at once (the caller waits a minimum)."""
    reset = _int(headers.get("x-ratelimit-reset"))
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


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class RunPage:
    items: list[object]
    next: str | None


class TriggerClient:
    """The two endpoints a poller needs, with a bearer secret key (tr_dev_, tr_prod_, ...)."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 15.0,
        clock: Clock | None = None,
        api_version: str | None = API_VERSION,
        budget: RateBudget | None = None,
        network: NetworkPolicy = PUBLIC_ONLY,
    ) -> None:
        self._http, self._api_key, self._timeout = http, api_key, timeout
        self._network = network  # where presigned output URLs may point
        self._base = base_url.rstrip("/")
        self._clock: Clock = clock or SystemClock()
        self._version = api_version
        self.budget = budget or shared_budget(self._base, api_key)
        self.requests = 0  # API requests sent

    @classmethod
    def for_source(cls, config: SourceConfig, http: httpx2.AsyncClient, clock: Clock) -> TriggerClient:
        return cls(
            http, base_url=config.base_url, api_key=config.api_key, clock=clock, network=config.network
        )

    async def list_runs(self, created_from: datetime, page_size: int, after: str | None = None) -> RunPage:
        """One page, newest first: raw items (parse_retrieved validates them) and the cursor."""
        params = {"page[size]": str(page_size), "filter[createdAt][from]": _iso(created_from)}
        if after:
            params["page[after]"] = after
        response = await self._send(LIST_PATH, params)
        body = self._json(response)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"{self._what(response)}: no data list in the body: {self._excerpt(response)}")
        pagination = body.get("pagination") if isinstance(body, dict) else None
        cursor = pagination.get("next") if isinstance(pagination, dict) else None
        return RunPage(items, cursor if _text(cursor) else None)

    async def get_run(self, run_id: str) -> JSON | None:
        """The run with output and error; None when Trigger.dev answers 404."""
        response = await self._send(RETRIEVE_PATH.format(run_id=quote(run_id, safe="")), {}, missing_ok=True)
        if response.status_code == 404:
            return None
        body = self._json(response)
        if not isinstance(body, dict):
            raise SourceError(f"{self._what(response)}: the body is {_type_name(body)}, not a run")
        return body

    async def fetch_output(self, url: str) -> JSON:
        """An offloaded output (over 512 KB) from its presigned URL: no credentials sent, at
        most MAX_OUTPUT_BYTES, only from where relay.netguard allows (the URL is run data).
        A superjson packet ({"json": ..., "meta": ...}) is unwrapped."""
        try:
            response = await fetch(self._http, url, self._network, timeout=self._timeout)
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
            raise SourceError(f"the offloaded output is {_type_name(value)}, not an object")
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

    async def _send(self, path: str, params: dict[str, str], *, missing_ok: bool = False) -> httpx2.Response:
        url = self._base + path
        wait = self.budget.pause(self._clock.now().timestamp())
        if wait > 0:
            raise RateLimited(
                f"rate budget low ({self.budget.remaining} of {self.budget.limit} left), holding off"
                f" {wait:.3g}s until it resets",
                wait,
            )
        headers = {"authorization": f"Bearer {self._api_key}", "accept": "application/json"}
        if self._version:
            headers["x-trigger-api-version"] = self._version
        try:
            request = self._http.build_request(
                "GET", url, params=params, timeout=self._timeout, headers=headers
            )
            self.requests += 1
            self.budget.spend()
            # no redirects: the bearer key must not follow us to another host
            response = await self._http.send(request, auth=None, follow_redirects=False)
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            raise SourceError(f"GET {url} failed: {type(exc).__name__}: {exc or 'no detail'}") from exc
        self.budget.update(response.headers)
        self._check_status(response, missing_ok)
        return response

    def _check_status(self, response: httpx2.Response, missing_ok: bool) -> None:
        status = response.status_code
        if status == 429:
            wait = retry_after_429(response.headers, response.content, self._clock.now())
            raise RateLimited(
                f"{self._what(response)}: rate limited (HTTP 429), retry after {wait:.3g}s", wait
            )
        if not 200 <= status < 300 and not (missing_ok and status == 404):
            raise SourceError(f"{self._what(response)}: HTTP {status}: {self._excerpt(response)}")

    def _json(self, response: httpx2.Response) -> object:
        try:
            return jsonin.loads(response.content)
        except ValueError:
            what, status = self._what(response), response.status_code
            raise SourceError(f"{what}: invalid JSON (HTTP {status}): {self._excerpt(response)}") from None

    def _what(self, response: httpx2.Response) -> str:
        return "GET " + response.request.url.raw_path.decode("ascii", "replace")

    def _excerpt(self, response: httpx2.Response) -> str:
        text = response.text
        if self._api_key:  # before cutting, so no prefix of the key survives at the edge
            text = text.replace(self._api_key, "***")
        text = redact(" ".join(text[: EXCERPT_CHARS * 20].split()))
        return (text[:EXCERPT_CHARS] + "...") if len(text) > EXCERPT_CHARS else text or "(empty)"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- polling -----------------------------------------------------------------------------------


@dataclass
class _Sweep:
    created_from: datetime
    started_at: datetime
    cursor: str | None = None
    pages: int = 0
    cursors: set[str] = field(default_factory=set)


class TriggerPoller:
    """Polls one Trigger.dev source (see the module docstring) into `ingest`."""

    def __init__(
        self,
        config: SourceConfig,
        client: TriggerClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        options: TriggerOptions | None = None,
        max_rechecks: int = MAX_RECHECKS,
        max_pages: int = MAX_PAGES_PER_CYCLE,
        min_wait: float = MIN_WAIT,
    ) -> None:
        self._config, self._client, self._store = config, client, store
        self._ingest, self._clock = ingest, clock
        self._options = options or TriggerOptions.of(config)
        self._run_url = run_url_template(config)
        self._max_rechecks, self._max_pages, self._min_wait = max_rechecks, max_pages, min_wait
        self._page_size = min(max(config.limit, PAGE_SIZES[0]), PAGE_SIZES[1])
        self._watching_since: datetime | None = None
        self._sweep: _Sweep | None = None
        self._last_sweep: datetime | None = None  # when the last complete sweep started
        self._cycle = 0
        self._rechecked_in: dict[str, int] = {}  # run id -> cycle of its last re-check
        self._completed: OrderedDict[str, int] = OrderedDict()  # pushed run id -> tries

    async def poll_once(self) -> PollReport:
        """One cycle. Raises RateLimited, or SourceError when the sweep or every re-check fails."""
        report, before = PollReport(), self._client.requests
        try:
            await self._poll(report)
        except Exception as exc:
            health.poll_outcome(self._config.name, self._clock.now(), exc)
            raise
        finally:
            report.requests = self._client.requests - before
        health.poll_outcome(self._config.name, self._clock.now())
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set. Never raises: failures are logged and retried later."""
        log.info(
            "poller_started source=%s every=%gs sweep_every=%gs sweep_window=%gs",
            self._config.name,
            self._config.poll_every,
            self._options.sweep_every,
            self._options.sweep_window,
        )
        await poll_forever(
            self._config.name, self.poll_once, stop, every=self._config.poll_every, min_wait=self._min_wait
        )
        log.info("poller_stopped source=%s", self._config.name)

    # -- one cycle -----------------------------------------------------------------------------

    async def _poll(self, report: PollReport) -> None:
        if self._watching_since is None:
            self._watching_since = await self._store.watching_since(self._config.name, self._clock.now())
        self._cycle += 1
        await self._recheck(report)
        await self._complete_pushed(report)
        if self._sweep is not None or self._sweep_due():
            await self._sweep_pages(report)

    async def _recheck(self, report: PollReport) -> None:
        """By id, the runs in flight: least recently re-checked first, then oldest update, so
        a backlog larger than the bound still rotates through every run."""
        states = await self._store.active_runs(self._config.name)
        active = {s.snapshot.run_id for s in states}
        self._rechecked_in = {k: v for k, v in self._rechecked_in.items() if k in active}
        states.sort(key=lambda s: (self._rechecked_in.get(s.snapshot.run_id, 0), s.snapshot.updated_at))
        failed: list[str] = []
        for state in states[: self._max_rechecks]:
            reason = await self._recheck_one(state.snapshot.run_id, report)
            if reason is not None:
                failed.append(reason)
        if failed and len(failed) == report.rechecked:
            raise SourceError(f"every by-id re-check failed ({len(failed)}); the last: {failed[-1]}")

    async def _recheck_one(self, run_id: str, report: PollReport) -> str | None:
        """The reason it failed (a 404 is no failure: the run is left as it is), or None. A
        request held back by the rate limit is no re-check: the run keeps its turn."""
        reason: str | None = None
        try:
            snapshot = await self._fetch(run_id)
        except RateLimited:
            raise
        except SourceError as exc:
            snapshot, reason = None, str(exc)
        self._rechecked_in[run_id] = self._cycle
        report.rechecked += 1
        if snapshot is not None:
            await self._ingest_one(snapshot, report)
            return None
        log.warning(
            "poll_recheck_failed source=%s run=%s reason=%s", self._config.name, run_id, reason or NOT_FOUND
        )
        return reason

    async def _complete_pushed(self, report: PollReport) -> None:
        """By id, once, the recent runs a webhook recorded as finished: output, error detail,
        duration and cost. Same phase, so the pipeline refreshes the record and notifies nobody."""
        horizon = self._clock.now() - timedelta(seconds=self._options.sweep_window)
        done = 0
        for state in await self._store.runs(self._config.name, limit=MAX_RECHECKS):
            pushed = state.snapshot
            if pushed.via is not Via.WEBHOOK or not pushed.terminal or pushed.updated_at < horizon:
                continue
            if self._completed.get(pushed.run_id, 0) >= COMPLETION_TRIES or done >= MAX_COMPLETIONS:
                continue
            done += 1
            if await self._complete(pushed):
                report.fetched_by_id += 1
                report.ingested += 1

    async def _complete(self, pushed: Snapshot) -> bool:
        run_id = pushed.run_id
        self._completed[run_id] = self._completed.get(run_id, 0) + 1
        self._completed.move_to_end(run_id)
        while len(self._completed) > RECENT_ALERTS:
            self._completed.popitem(last=False)
        try:
            snapshot = await self._fetch(run_id)
        except RateLimited:
            self._completed[run_id] -= 1  # not a try: asked to wait
            raise
        except SourceError as exc:
            log.warning("poll_complete_failed source=%s run=%s reason=%s", self._config.name, run_id, exc)
            return False
        if snapshot is None or not snapshot.terminal:  # gone, or the API not caught up yet
            return False
        self._completed[run_id] = COMPLETION_TRIES
        await self._ingest(replace(snapshot, url=snapshot.url or pushed.url))
        return True

    def _sweep_due(self) -> bool:
        if self._last_sweep is None:
            return True
        every = max(self._options.sweep_every, self._config.poll_every)
        return self._clock.now() >= self._last_sweep + timedelta(seconds=every)

    async def _sweep_pages(self, report: PollReport) -> None:
        """Up to `max_pages` pages of the current sweep (a new one if none is unfinished)."""
        sweep = self._sweep = self._sweep or self._new_sweep()
        try:
            for _ in range(self._max_pages):
                page = await self._client.list_runs(sweep.created_from, self._page_size, sweep.cursor)
                sweep.pages += 1
                report.listed += len(page.items)
                await self._discover(page.items, report)
                if self._sweep_ends(sweep, page):
                    self._last_sweep, self._sweep = sweep.started_at, None
                    return
                sweep.cursor = page.next
        except RateLimited:
            raise  # the sweep resumes at the same page next cycle
        except SourceError:
            self._sweep = None  # a cursor the server rejects must not stick: start over
            raise
        log.info("sweep_continues source=%s pages=%d", self._config.name, sweep.pages)

    def _new_sweep(self) -> _Sweep:
        now = self._clock.now()
        start = now - timedelta(seconds=self._options.sweep_window)
        if self._last_sweep is not None:
            start = max(start, self._last_sweep - timedelta(seconds=SWEEP_OVERLAP))
        return _Sweep(created_from=start, started_at=now)

    def _sweep_ends(self, sweep: _Sweep, page: RunPage) -> bool:
        if page.next is None or not page.items:
            return True
        if page.next in sweep.cursors or page.next == sweep.cursor:
            log.warning(
                "sweep_cursor_repeated source=%s cursor=%s pages=%d (sweep ended)",
                self._config.name,
                _short(page.next),
                sweep.pages,
            )
            return True
        if sweep.pages >= MAX_PAGES_PER_SWEEP:
            log.warning("sweep_too_long source=%s pages=%d (sweep ended)", self._config.name, sweep.pages)
            return True
        sweep.cursors.add(page.next)
        return False

    async def _discover(self, items: list[object], report: PollReport) -> None:
        """Runs never seen are ingested; known ones are left to the by-id re-checks. A run
        that finished after the relay started watching is news and fetched by id for its
        output or error; one that finished before is history, recorded from the list alone."""
        listed: list[Snapshot] = []
        for index, item in enumerate(items):
            try:
                listed.append(parse_retrieved(item, source=self._config.name, run_url=self._run_url))
            except SourceError as exc:
                report.invalid += 1
                log.warning("poll_item_invalid source=%s index=%d reason=%s", self._config.name, index, exc)
        known = await self._store.known_runs(self._config.name, [s.run_id for s in listed])
        for snapshot in listed:
            if snapshot.run_id in known:
                continue
            if snapshot.terminal and self._is_news(snapshot):
                snapshot = await self._with_detail(snapshot, report)
            await self._ingest_one(snapshot, report)

    def _is_news(self, snapshot: Snapshot) -> bool:
        since = self._watching_since
        return since is None or (snapshot.finished_at or snapshot.updated_at) >= since

    async def _with_detail(self, listed: Snapshot, report: PollReport) -> Snapshot:
        try:
            detailed = await self._fetch(listed.run_id)
        except RateLimited:
            raise
        except SourceError as exc:
            log.warning("poll_fetch_failed source=%s run=%s reason=%s", self._config.name, listed.run_id, exc)
            return listed
        if detailed is None or not detailed.terminal:
            return listed
        report.fetched_by_id += 1
        return detailed

    async def _fetch(self, run_id: str) -> Snapshot | None:
        """By id, with an offloaded output downloaded when the run is finished. None on 404."""
        raw = await self._client.get_run(run_id)
        if raw is None:
            return None
        snapshot = parse_retrieved(raw, source=self._config.name, run_url=self._run_url)
        url = raw.get("outputPresignedUrl")
        if not snapshot.terminal or snapshot.output is not None or not _text(url):
            return snapshot
        try:
            return replace(snapshot, output=await self._client.fetch_output(str(url)))
        except SourceError as exc:
            log.warning("poll_output_failed source=%s run=%s reason=%s", self._config.name, run_id, exc)
            return snapshot

    async def _ingest_one(self, snapshot: Snapshot, report: PollReport) -> None:
        await self._ingest(snapshot)
        report.ingested += 1

    # -- the loop --------------------------------------------------------------------------------


def _open_poller(
    config: SourceConfig, http: httpx2.AsyncClient, store: Store, ingest: Ingest, clock: Clock
) -> TriggerPoller:
    """Raises ConfigError for invalid options."""
    try:
        options = TriggerOptions.of(config)
    except ValueError as exc:
        raise ConfigError(f"source {config.name!r}: {exc}") from None
    if not config.api_key.startswith(("tr_dev_", "tr_prod_", "tr_stg_", "tr_preview_")):
        log.warning(
            "source_key_suspect source=%s reason=expected a secret key (tr_dev_, tr_prod_, tr_stg_,"
            " tr_preview_); personal access and public keys cannot retrieve runs by id",
            config.name,
        )
    client = TriggerClient.for_source(config, http, clock)
    return TriggerPoller(config, client, store, ingest, clock, options=options)


KIND = SourceKind(
    "triggerdev",
    parse_webhook,
    statuses=frozenset(TRIGGER_STATUSES),
    authenticate=authenticate,
    open_poller=_open_poller,
    check_options=check_options,
    secret_is_key=False,  # Trigger.dev's alerts use it as a plain HMAC secret
)
