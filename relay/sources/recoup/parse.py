"""Recoup: Trigger.dev run objects passed through GET {base_url}/tasks/runs (PLATFORMS.md 3, 4.3).

Recoup sends no webhooks of its own, so the poller is the main way in. One cycle:

1. list the account's recent runs: legacy status names, no `output` or `error`, only runs
   that have started, newest `limit` of the last 7 days, no cursor;
2. fetch by id (`?runId=`: new status names, with output and error) every listed run that
   has just become terminal, so the notification can carry the video URL or the error;
3. re-check by id the runs we hold as active that are no longer in the listed window, a
   bounded number per cycle, least recently re-checked first.

Status names go through `trigger_phase`, so the two vocabularies never make a transition of
a rename. Every failure to talk to Recoup is a `SourceError` (`RateLimited` for a 429).
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx2

from relay import jsonin
from relay.clock import Clock, SystemClock, parse_time
from relay.durations import parse_duration
from relay.errors import RateLimited, SourceError
from relay.lifecycle import TRIGGER_STATUSES, trigger_phase
from relay.models import JSON, RunError, RunState, Snapshot, Via
from relay.rules.config import SourceConfig
from relay.secrets import redact
from relay.sources import health
from relay.sources import recoup_schedules as schedules
from relay.sources.base import Ingest, PollReport, SourceKind
from relay.sources.polling import poll_forever
from relay.store.base import Store

log = logging.getLogger("relay.sources.recoup")

T = TypeVar("T")

RUNS_PATH = "/tasks/runs"
TASKS_PATH = "/tasks"
DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 carries no usable Retry-After
MAX_RECHECKS = 50  # by-id re-checks per cycle: a large backlog must not hammer the API
EXCERPT_CHARS = 200
_TIMESTAMPS = ("createdAt", "updatedAt", "startedAt", "finishedAt")


# -- parsing -------------------------------------------------------------------------------


def parse_run(obj: object, *, source: str, via: Via, run_url: str | None = None) -> Snapshot:
    """One run object (either vocabulary, list or by-id shape) -> Snapshot.

    Raises SourceError naming the field when the object cannot identify a run. Everything
    optional is read leniently: unknown statuses become Phase.UNKNOWN (status kept), an
    `output` that is not an object is dropped, a missing `updatedAt` falls back to the
    latest other timestamp.
    """
    if not isinstance(obj, dict):
        raise SourceError(f"run must be a JSON object, got {_type_name(obj)}")
    run_id = _run_id(obj, "run")
    where = f"run {run_id!r}"
    status = _required_text(obj, "status", where)
    task = _required_text(obj, "taskIdentifier", where)
    times = {key: _timestamp(obj, key, where) for key in _TIMESTAMPS}
    updated = next(
        (times[k] for k in ("updatedAt", "finishedAt", "startedAt", "createdAt") if times[k] is not None),
        None,
    )
    if updated is None:
        raise SourceError(f"{where}: no timestamp (updatedAt, finishedAt, startedAt, createdAt)")
    return Snapshot(
        source=source,
        run_id=run_id,
        task=task,
        status=status,
        phase=trigger_phase(status),
        updated_at=updated,
        via=via,
        created_at=times["createdAt"],
        started_at=times["startedAt"],
        finished_at=times["finishedAt"],
        tags=_tags(obj.get("tags")),
        is_test=obj.get("isTest") is True,
        metadata=_object(obj.get("metadata")) or {},
        output=_object(obj.get("output")),
        error=_error(obj.get("error")),
        duration_ms=_whole_number(obj.get("durationMs")),
        cost_cents=_cost(obj.get("costInCents")),
        url=run_url.replace("{run_id}", quote(run_id, safe="")) if run_url else None,
    )


def parse_webhook_body(body: object, *, source: str, run_url: str | None = None) -> list[Snapshot]:
    """A pushed body: one run object, or the list response shape `{"runs": [...]}`.

    All or nothing: one malformed run rejects the body, so a bad request changes nothing.
    """
    if isinstance(body, dict) and "runs" in body:
        runs = body["runs"]
        if not isinstance(runs, list) or not runs:
            raise SourceError("runs must be a non-empty list of run objects")
        return [_parse_indexed(item, i, source, run_url) for i, item in enumerate(runs)]
    if isinstance(body, dict):
        return [parse_run(body, source=source, via=Via.WEBHOOK, run_url=run_url)]
    raise SourceError(f'body must be a run object or {{"runs": [...]}}, got {_type_name(body)}')


def _parse_indexed(item: object, index: int, source: str, run_url: str | None) -> Snapshot:
    try:
        return parse_run(item, source=source, via=Via.WEBHOOK, run_url=run_url)
    except SourceError as exc:
        raise SourceError(f"runs[{index}]: {exc}") from exc


def _run_id(obj: dict[str, Any], where: str) -> str:
    """The run's id, which becomes a segment of API paths (re-checks by id): `.` and `..`
    would be folded away by the HTTP client (`/runs/..` asks for the collection's parent)."""
    run_id = _required_text(obj, "id", where)
    if run_id.strip() in (".", ".."):
        raise SourceError(f"{where}: id {run_id!r} cannot name a run")
    return run_id


def _required_text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        raise SourceError(f"{where}: {key} is missing")
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{where}: {key} must be a non-empty string, got {_short(value)}")
    return value


def _timestamp(obj: dict[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key)
    if value is None:  # null where the docs say nullable, or absent: the caller falls back
        return None
    if not isinstance(value, str):
        raise SourceError(f"{where}: {key} must be an ISO 8601 string, got {_short(value)}")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise SourceError(f"{where}: {key} is {exc}: {_short(value)}") from None


def _tags(value: object) -> tuple[str, ...]:
    return tuple(t for t in value if isinstance(t, str)) if isinstance(value, list) else ()


def _object(value: object) -> JSON | None:
    return value if isinstance(value, dict) else None


def _cost(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _error(value: object) -> RunError | None:
    """REST errors are {message, name, stackTrace}; alert webhooks may carry only raw or code."""
    if isinstance(value, str):
        return RunError(message=value) if value else None
    if not isinstance(value, dict):
        return None
    texts = {k: v for k, v in value.items() if isinstance(v, str) and v}
    message = next((texts[k] for k in ("message", "raw", "code", "name") if k in texts), None)
    if message is None:
        return None
    return RunError(message=message, name=texts.get("name"), stack_trace=texts.get("stackTrace"))


def _type_name(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- HTTP ------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> float:
    """Retry-After is delta-seconds or an HTTP date; anything unusable means the default."""
    if not value or not value.strip():
        return DEFAULT_RETRY_AFTER
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, now)
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


class RecoupClient:
    """GET {base_url}/tasks/runs. Authenticates with `x-api-key` only: Recoup answers 401
    when a request carries both x-api-key and Authorization."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 15.0,
        clock: Clock | None = None,
    ) -> None:
        self._http, self._api_key, self._timeout = http, api_key, timeout
        self._base = base_url.rstrip("/")
        self._clock: Clock = clock or SystemClock()

    @classmethod
    def for_source(cls, config: SourceConfig, http: httpx2.AsyncClient) -> RecoupClient:
        return cls(http, base_url=config.base_url, api_key=config.api_key)

    async def list_runs(self, limit: int, account_id: str | None = None) -> list[object]:
        """The raw items, newest first, not yet validated (parse_run does that per item)."""
        params = {"limit": str(limit)}
        if account_id:
            params["account_id"] = account_id
        return self._items(await self._send(RUNS_PATH, params), "runs")

    async def list_tasks(self, account_id: str | None = None) -> list[object]:
        """GET {base_url}/tasks: scheduled tasks with `schedule`, `enabled`, `recent_runs`."""
        params = {"account_id": account_id} if account_id else {}
        return self._items(await self._send(TASKS_PATH, params), "tasks")

    async def get_run(self, run_id: str) -> JSON | None:
        """One run with output and error (new status names); None when Recoup answers 404."""
        response = await self._send(RUNS_PATH, {"runId": run_id})
        if response.status_code == 404:
            return None
        runs = self._items(response, "runs")
        if not runs:
            return None
        if not isinstance(runs[0], dict):
            raise SourceError(f"GET ?runId={run_id}: runs[0] is {_type_name(runs[0])}, not a run")
        return runs[0]

    def _items(self, response: httpx2.Response, key: str) -> list[object]:
        what = "GET " + response.request.url.raw_path.decode("ascii", "replace")
        self._check_status(response, what)
        try:
            body = jsonin.loads(response.content)
        except ValueError:
            raise SourceError(
                f"{what}: invalid JSON (HTTP {response.status_code}): {self._excerpt(response)}"
            ) from None
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise SourceError(
                f"{what}: no {key} list in the body (HTTP {response.status_code}): {self._excerpt(response)}"
            )
        return items

    async def _send(self, path: str, params: dict[str, str]) -> httpx2.Response:
        url = self._base + path
        try:
            request = self._http.build_request(
                "GET",
                url,
                params=params,
                timeout=self._timeout,
                headers={"x-api-key": self._api_key, "accept": "application/json"},
            )
            # a default Authorization on a shared client would turn every call into a 401
            request.headers.pop("authorization", None)
            # no redirects: x-api-key is a custom header, it would follow us to any host
            return await self._http.send(request, auth=None, follow_redirects=False)
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            detail = str(exc) or "no detail"
            raise SourceError(f"GET {url} failed: {type(exc).__name__}: {detail}") from exc

    def _check_status(self, response: httpx2.Response, what: str) -> None:
        status = response.status_code
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock.now())
            raise RateLimited(f"{what}: rate limited (HTTP 429), retry after {retry_after:g}s", retry_after)
        if not 200 <= status < 300:
            raise SourceError(f"{what}: HTTP {status}: {self._excerpt(response)}")

    def _excerpt(self, response: httpx2.Response) -> str:
        text = response.text
        if self._api_key:  # before cutting, so no prefix of the key survives at the edge
            text = text.replace(self._api_key, "***")
        text = redact(" ".join(text[: EXCERPT_CHARS * 20].split()))
        return (text[:EXCERPT_CHARS] + "...") if len(text) > EXCERPT_CHARS else text or "(empty)"


# -- polling ---------------------------------------------------------------------------------


class RecoupPoller:
    """Polls one Recoup source and hands snapshots to `ingest` (Pipeline.ingest).

    Which terminal runs are fetched by id: those the store holds as non-terminal, and those
    never seen that finished after the relay started watching the source (the store's
    `watching_since`, which survives restarts: a run that started and finished while the
    relay was down is news, and gets its output). A run never seen that finished before that
    moment is history: it is recorded from the list alone, without output or error, so a
    first start with a full window costs one request, not `limit + 1`.
    """

    def __init__(
        self,
        config: SourceConfig,
        client: RecoupClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        max_rechecks: int = MAX_RECHECKS,
    ) -> None:
        self._config, self._client, self._store = config, client, store
        self._ingest, self._clock, self._max_rechecks = ingest, clock, max_rechecks
        self._watching_since: datetime | None = None
        self._cycle = 0
        self._rechecked_in: dict[str, int] = {}  # run id -> cycle of its last re-check

    async def poll_once(self) -> PollReport:
        """One cycle. Raises RateLimited or SourceError when the list request fails."""
        try:
            report = await self._poll()
        except Exception as exc:
            health.poll_outcome(self._config.name, self._clock.now(), exc)
            raise
        health.poll_outcome(self._config.name, self._clock.now())
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set. Never raises: failures are logged and retried later.

        Setting `stop` ends a wait at once and abandons a cycle in flight (snapshots already
        ingested stay stored; the rest is picked up by the next start).
        """
        log.info("poller_started source=%s every=%gs", self._config.name, self._config.poll_every)
        await poll_forever(self._config.name, self.poll_once, stop, every=self._config.poll_every)
        log.info("poller_stopped source=%s", self._config.name)

    # -- one cycle ---------------------------------------------------------------------------

    async def _poll(self) -> PollReport:
        report = PollReport()
        if self._watching_since is None:
            self._watching_since = await self._store.watching_since(self._config.name, self._clock.now())
        items = await self._client.list_runs(self._config.limit, self._config.options.get("account_id"))
        self._cycle += 1
        report.listed = len(items)
        listed = self._parse_listed(items, report)
        known = await self._store.known_runs(self._config.name, [s.run_id for s in listed])
        for snapshot in listed:
            await self._handle_listed(snapshot, known.get(snapshot.run_id), report)
        await self._recheck({s.run_id for s in listed}, report)
        if self._config.options.get("schedules"):
            await self._check_schedules(report)
        return report

    async def _check_schedules(self, report: PollReport) -> None:
        """Missed scheduled runs and tasks switched off (see recoup_schedules)."""
        name, now = self._config.name, self._clock.now()
        grace = timedelta(seconds=parse_duration(self._config.options.get("schedule_grace", "10m")))
        since = self._watching_since or now
        for item in await self._client.list_tasks(self._config.options.get("account_id")):
            try:
                task = schedules.parse_task(item)
            except (SourceError, ValueError) as exc:
                report.invalid += 1
                log.warning("schedule_item_invalid source=%s reason=%s", name, exc)
                continue
            await self._ingest_one(schedules.task_state(task, source=name, now=now), report)
            for missed in schedules.missed_runs(
                task, source=name, now=now, watching_since=since, grace=grace
            ):
                log.info(
                    "schedule_missed source=%s task=%s slot=%s",
                    name,
                    task.title,
                    missed.metadata["scheduled_for"],
                )
                await self._ingest_one(missed, report)

    def _parse_listed(self, items: list[object], report: PollReport) -> list[Snapshot]:
        snapshots: list[Snapshot] = []
        for index, item in enumerate(items):
            try:
                snapshots.append(self._parse(item))
            except SourceError as exc:
                report.invalid += 1
                log.warning("poll_item_invalid source=%s index=%d reason=%s", self._config.name, index, exc)
        return snapshots

    async def _handle_listed(self, snapshot: Snapshot, state: RunState | None, report: PollReport) -> None:
        if state is not None and state.snapshot.terminal:
            return  # terminal is absorbing: nothing later can be a transition
        if snapshot.terminal and self._wants_detail(snapshot, state):
            snapshot = await self._with_detail(snapshot, report)
        await self._ingest_one(snapshot, report)

    def _wants_detail(self, snapshot: Snapshot, state: RunState | None) -> bool:
        if state is not None or self._watching_since is None:
            return True
        return (snapshot.finished_at or snapshot.updated_at) >= self._watching_since

    async def _with_detail(self, listed: Snapshot, report: PollReport) -> Snapshot:
        """The by-id snapshot (output, error); the listed one if that fetch fails, so the
        transition is recorded anyway. A 429 propagates: the run stays non-terminal in the
        store, so the next cycle tries again and nothing is lost."""
        detailed = await self._fetch(listed.run_id, "poll_fetch_failed")
        if detailed is None:
            return listed
        report.fetched_by_id += 1
        if not detailed.terminal:  # the endpoints disagree for a moment: trust the later news
            log.info(
                "poll_fetch_behind source=%s run=%s list=%s by_id=%s",
                self._config.name,
                listed.run_id,
                listed.status,
                detailed.status,
            )
            return listed
        return detailed

    async def _recheck(self, listed_ids: set[str], report: PollReport) -> None:
        for state in await self._due_rechecks(listed_ids):
            run_id = state.snapshot.run_id
            self._rechecked_in[run_id] = self._cycle
            report.rechecked += 1
            snapshot = await self._fetch(run_id, "poll_recheck_failed")
            if snapshot is not None:
                await self._ingest_one(snapshot, report)

    async def _due_rechecks(self, listed_ids: set[str]) -> list[RunState]:
        """Active runs missing from the list, least recently re-checked first, then oldest
        update first, so a backlog larger than the bound still rotates through every run."""
        states = await self._store.active_runs(self._config.name)
        missing = [s for s in states if s.snapshot.run_id not in listed_ids]
        active_ids = {s.snapshot.run_id for s in missing}
        self._rechecked_in = {k: v for k, v in self._rechecked_in.items() if k in active_ids}
        missing.sort(key=lambda s: (self._rechecked_in.get(s.snapshot.run_id, 0), s.snapshot.updated_at))
        return missing[: self._max_rechecks]

    async def _fetch(self, run_id: str, action: str) -> Snapshot | None:
        """By id; None (logged under `action`) on 404 or any SourceError but a 429."""
        try:
            raw = await self._client.get_run(run_id)
            if raw is not None:
                return self._parse(raw)
            reason = "not found (HTTP 404)"
        except RateLimited:
            raise
        except SourceError as exc:
            reason = str(exc)
        log.warning("%s source=%s run=%s reason=%s", action, self._config.name, run_id, reason)
        return None

    def _parse(self, item: object) -> Snapshot:
        return parse_run(item, source=self._config.name, via=Via.POLL, run_url=self._config.run_url)

    async def _ingest_one(self, snapshot: Snapshot, report: PollReport) -> None:
        await self._ingest(snapshot)
        report.ingested += 1


def _parse_webhook(body: object, config: SourceConfig) -> list[Snapshot]:
    return parse_webhook_body(body, source=config.name, run_url=config.run_url)


def _open_poller(
    config: SourceConfig, http: httpx2.AsyncClient, store: Store, ingest: Ingest, clock: Clock
) -> RecoupPoller:
    return RecoupPoller(config, RecoupClient.for_source(config, http), store, ingest, clock)


KIND = SourceKind(
    "recoup",
    _parse_webhook,
    open_poller=_open_poller,
    statuses=frozenset(TRIGGER_STATUSES) | schedules.STATUSES,
)
