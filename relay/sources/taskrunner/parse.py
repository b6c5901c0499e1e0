"""The self-hosted task runner, RunWisp (PLATFORMS.md 1 and 4.1): `kind: taskrunner`.

Ways in, all ending in `Pipeline.ingest`:

- **stream** (`stream: true`): RunWisp's SSE run feed. `/api/events/stream` (newer: every
  event has an id and a reconnect with `Last-Event-ID` replays what was missed) is tried
  first, `/api/runs/stream` (the seed's era, no replay) when that path is unknown. Events
  `run.created|started|completed|failed|updated` carry `{run, error?}`; the phase is read
  from `run.status` / `run.end_reason`, never from the event name. Reconnects back off
  exponentially (`taskrunner_stream.StreamFollower`) and every (re)connect wakes a
  reconciliation pass, so a gap no replay covers is closed by listing.
- **reconciliation** (always; `poll_once` is one pass, every `poll_every`):
  `GET /api/tasks/{task}/runs?limit&offset&sort_field=created_at&sort_direction=desc` for
  each name in `tasks` (`GET /api/runs` when `tasks` is not set), newest first. A further
  page is read only while the page was full, held no run already stored as finished and
  none created before the relay first watched the source (history is not paged through),
  at most MAX_PAGES pages. Runs stored as active but not listed are then re-checked by id,
  at most MAX_RECHECKS a pass, least recently re-checked first. Per-run paths differ by
  version (`/api/tasks/{task}/runs/{id}` in the seed's era, `/api/runs/{id}` later): the
  first is tried, then the second on a 404, and the one that answers is remembered.
- **webhook** (`POST /hooks/{source}`): a run object, `{run, error}` (an SSE event's
  data), `{runs: [...]}`, or the payload of RunWisp's own `type = "webhook"` notifier
  (`{kind: "run.failed", task, run: {id, exit_code, ...}, output_tail, ...}`). RunWisp
  signs nothing: with a `webhook_secret` the request must carry
  `Authorization: Bearer <webhook_secret>` (set it in the notifier's `headers`; any of the
  source's secrets while they rotate).

Runs carry no error message. When a run turns terminal in a problem phase (the store held
it as active, or it is news: pushed, or finished after the relay started watching), the
last `log_lines` lines of its log are fetched before ingest (`.../log?from=-N`) and the
error becomes `RunError(name=end_reason, message="exit code N" + the log's tail capped at
300 bytes, as RunWisp's notifier caps `output_tail`; stack_trace=the longer tail)`. A log
that cannot be read never holds the transition back: the error then has no tail.

Snapshot mapping: `run_id` is RunWisp's run id (a ULID), `task` the task name (the
instance is `metadata.instance_index`; `metadata.task_label` is `name#N` for an instance
above 0, for templates), `status` RunWisp's display status (`end_reason` once ended, else
`status`; `ended` without a reason shows as `stopped`), metadata keeps the raw fields
(`run_status`, `end_reason`, `exit_code`, `triggered_by`, `instance_index` from either
`instance_index` or `replica_index`, `retry_attempt`, `retry_of_run_id`,
`external_execution_id`) and tags `triggered_by:<how>`, `instance:<n>` (n > 0) and
`retry_attempt:<n>` (n > 0) are set for rule matching. The link is `run_url` (`{run_id}`,
`{task}`) or `{external_url}/tasks/{task}/{run_id}`.

Retries and recovery (not built here; issue 5): a failed run with attempts left is
followed by a *new* run whose `retry_of_run_id` names the run it retried (the previous
attempt, not the first), `retry_attempt` counting from 0. A "recovered" rule needs, for a
SUCCEEDED transition with `retry_of_run_id`: the stored state of that run (Store.known_runs)
to confirm it was a problem, walking the chain to the first attempt for the logical job;
"final failure only" needs the task's `retry_attempts` (GET /api/tasks, not on the run) and
a short hold of failure notices, cancelled when a run with `retry_of_run_id == this id`
appears.

Options (`SourceConfig.options`, checked by `TaskRunnerOptions.of`): `tasks` (task names),
`socket` (path of RunWisp's Unix socket: no auth needed, `base_url` then only names the
host), `stream` (bool), `external_url` (RunWisp's web UI, for links), `log_lines` (0..1000,
default 20; 0: no log fetch). `api_key` is the bearer JWT of a RunWisp login; empty when
auth is off or the socket is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2

from relay import jsonin
from relay.clock import Clock, SystemClock
from relay.errors import BadJson, RateLimited, SourceError
from relay.models import JSON, Phase, RunError, RunState, Snapshot, Via
from relay.rules.config import SourceConfig
from relay.secrets import redact
from relay.signing import SignatureError
from relay.sources import health
from relay.sources.base import Ingest, PollReport, SourceKind
from relay.sources.polling import guarded_cycle, stopped_within
from relay.sources.recoup import (
    _required_text,
    _run_id,
    _short,
    _timestamp,
    _type_name,
    _whole_number,
    parse_retry_after,
)
from relay.sources.taskrunner_stream import MAX_RECONNECT, MIN_RECONNECT, SseEvent, StreamFollower
from relay.store.base import Store

log = logging.getLogger("relay.sources.taskrunner")

DEFAULT_LOG_LINES = 20
MAX_LOG_LINES = 1000
TAIL_BYTES = 300  # the log tail in a message, as RunWisp's own notifier caps output_tail
TRACE_CHARS = 4000  # the longer tail kept as the error's stack_trace
MAX_PAGES = 5  # list pages per task per pass
MAX_RECHECKS = 50
EXCERPT_CHARS = 200
STREAM_READ_TIMEOUT = 90.0  # RunWisp pings every 30 s: three missed pings mean a dead stream
TASK_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,100}$")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")

EVENTS_STREAM = "/api/events/stream"  # newer: ids and Last-Event-ID replay
RUNS_STREAM = "/api/runs/stream"  # the seed's era
RUN_EVENTS = frozenset({"run.created", "run.started", "run.completed", "run.failed", "run.updated"})
PER_TASK, PER_RUN = "per-task", "per-run"  # /api/tasks/{task}/runs/{id} | /api/runs/{id}

STATUSES: dict[str, Phase] = {"pending": Phase.QUEUED, "running": Phase.RUNNING}
END_REASONS: dict[str, Phase] = {
    "success": Phase.SUCCEEDED,
    "failed": Phase.FAILED,
    "log_overflow": Phase.FAILED,  # log_on_full = "kill_task": RunWisp counts it a failure
    "stopped": Phase.CANCELED,
    "timeout": Phase.TIMED_OUT,
    "crashed": Phase.CRASHED,
    "skipped": Phase.SKIPPED,  # concurrency policy: never ran, not a failure
    # later versions
    "queue_full": Phase.SKIPPED,
    "dst_skipped": Phase.SKIPPED,
    "daemon_stopped": Phase.CANCELED,
    "missed": Phase.MISSED,
}
# RunWisp's notifier event kinds (its webhook payload) -> (status, end_reason)
NOTIFIER_KINDS: dict[str, tuple[str, str | None]] = {
    "run.started": ("running", None),
    "run.succeeded": ("ended", "success"),
    "run.failed": ("ended", "failed"),
    "run.timeout": ("ended", "timeout"),
    "run.stopped": ("ended", "stopped"),
    "run.crashed": ("ended", "crashed"),
    "run.missed": ("ended", "missed"),
}


# -- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRunnerOptions:
    tasks: tuple[str, ...] = ()  # empty: every task, through GET /api/runs
    socket: str | None = None
    stream: bool = False
    external_url: str | None = None
    log_lines: int = DEFAULT_LOG_LINES

    @classmethod
    def of(cls, config: SourceConfig) -> TaskRunnerOptions:
        """Raises ValueError naming the source and the option."""
        o, where = config.options, f"source {config.name!r}: option"
        tasks = o.get("tasks", ())
        if isinstance(tasks, str):
            tasks = [tasks]
        if not isinstance(tasks, list | tuple) or not all(
            isinstance(t, str) and TASK_NAME.match(t) for t in tasks
        ):
            raise ValueError(
                f"{where} tasks must be a list of task names (letters, digits, '.', '_', '-';"
                f" at most 100 characters), got {_short(tasks)}"
            )
        socket = o.get("socket")
        if socket is not None and (not isinstance(socket, str) or not socket.strip()):
            raise ValueError(
                f"{where} socket must be the path of RunWisp's Unix socket, got {_short(socket)}"
            )
        stream = o.get("stream", False)
        if not isinstance(stream, bool):
            raise ValueError(f"{where} stream must be true or false, got {_short(stream)}")
        external_url = o.get("external_url")
        if external_url is not None and not (
            isinstance(external_url, str) and urlsplit(external_url).scheme in ("http", "https")
        ):
            raise ValueError(f"{where} external_url must be an http(s) URL, got {_short(external_url)}")
        log_lines = o.get("log_lines", DEFAULT_LOG_LINES)
        if (
            isinstance(log_lines, bool)
            or not isinstance(log_lines, int)
            or not 0 <= log_lines <= MAX_LOG_LINES
        ):
            raise ValueError(
                f"{where} log_lines must be a whole number from 0 to {MAX_LOG_LINES}, got {_short(log_lines)}"
            )
        return cls(
            tasks=tuple(dict.fromkeys(tasks)),
            socket=socket,
            stream=stream,
            external_url=external_url.rstrip("/") if external_url else None,
            log_lines=log_lines,
        )


# -- parsing -------------------------------------------------------------------------------


def runwisp_phase(status: str, end_reason: str | None) -> Phase:
    """status + end_reason -> Phase (PLATFORMS.md 4.1). Unknown values: Phase.UNKNOWN."""
    status = status.strip().lower()
    if status != "ended":
        return STATUSES.get(status, Phase.UNKNOWN)
    if not end_reason:
        return Phase.CANCELED  # RunWisp displays a reasonless end as "stopped"
    return END_REASONS.get(end_reason.strip().lower(), Phase.UNKNOWN)


def display_status(status: str, end_reason: str | None) -> str:
    """RunWisp's own DisplayStatus(): the end reason once ended, else the phase."""
    if status.strip().lower() == "ended":
        return end_reason or "stopped"
    return status


def parse_run(
    obj: object,
    *,
    source: str,
    via: Via,
    task: str | None = None,
    external_url: str | None = None,
    run_url: str | None = None,
    event_error: str | None = None,
) -> Snapshot:
    """One RunWisp run object (any version) -> Snapshot. `task` names the run when the
    object lacks `task_name` (a per-task list). Raises SourceError naming the field when it
    cannot identify a run; unknown statuses and reasons become Phase.UNKNOWN."""
    if not isinstance(obj, dict):
        raise SourceError(f"run must be a JSON object, got {_type_name(obj)}")
    run_id = _run_id(obj, "run")
    where = f"run {run_id!r}"
    raw_status = _required_text(obj, "status", where)
    name = obj.get("task_name")
    if name is None and task is not None:
        name = task
    if not isinstance(name, str) or not name.strip():
        raise SourceError(
            f"{where}: task_name is missing" if name is None else f"{where}: bad task_name {_short(name)}"
        )
    reason = obj.get("end_reason")
    end_reason = str(reason) if reason not in (None, "") else None
    phase = runwisp_phase(raw_status, end_reason)
    created, started, ended = (_timestamp(obj, k, where) for k in ("created_at", "start_at", "end_at"))
    known = [t for t in (created, started, ended) if t is not None]
    if not known:
        raise SourceError(f"{where}: no timestamp (created_at, start_at, end_at)")
    metadata = _metadata(obj, name, raw_status, end_reason, event_error)
    exit_code = metadata["exit_code"]
    return Snapshot(
        source=source,
        run_id=run_id,
        task=name,
        status=display_status(raw_status, end_reason),
        phase=phase,
        updated_at=max(known),  # runs have no updated_at: the latest moment they record
        via=via,
        created_at=created,
        started_at=started,
        finished_at=ended,
        tags=_tags(metadata),
        metadata=metadata,
        error=failure_error(end_reason, exit_code, (), event_error) if phase.problem else None,
        duration_ms=int((ended - started).total_seconds() * 1000)
        if started and ended and ended >= started
        else None,
        url=_link(run_id, name, run_url, external_url),
    )


def _metadata(
    obj: dict[str, Any], task: str, status: str, end_reason: str | None, event_error: str | None
) -> JSON:
    instance = _whole_number(obj.get("instance_index"))
    if instance is None:
        instance = _whole_number(obj.get("replica_index"))  # before v0.5.0's rename
    instance = instance or 0
    metadata: JSON = {
        "task_name": task,
        "task_label": f"{task}#{instance}" if instance > 0 else task,
        "run_status": status,
        "end_reason": end_reason,
        "exit_code": _whole_number(obj.get("exit_code")),
        "triggered_by": _text(obj.get("triggered_by")),
        "instance_index": instance,
        "retry_attempt": _whole_number(obj.get("retry_attempt")) or 0,
        "retry_of_run_id": _text(obj.get("retry_of_run_id")),
        "external_execution_id": _text(obj.get("external_execution_id")),
    }
    if event_error:
        metadata["event_error"] = event_error
    return metadata


def _tags(metadata: JSON) -> tuple[str, ...]:
    tags = [f"triggered_by:{metadata['triggered_by']}"] if metadata["triggered_by"] else []
    if metadata["instance_index"] > 0:
        tags.append(f"instance:{metadata['instance_index']}")
    if metadata["retry_attempt"] > 0:
        tags.append(f"retry_attempt:{metadata['retry_attempt']}")
    return tuple(tags)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _link(run_id: str, task: str, run_url: str | None, external_url: str | None) -> str | None:
    run_q, task_q = quote(run_id, safe=""), quote(task, safe="")
    if run_url:
        return run_url.replace("{run_id}", run_q).replace("{task}", task_q)
    if external_url:
        return f"{external_url.rstrip('/')}/tasks/{task_q}/{run_q}"
    return None


def clean_log_lines(lines: Sequence[str]) -> list[str]:
    """Terminal escapes removed, a carriage-return redraw reduced to what it shows last,
    blank lines dropped."""
    cleaned = (ANSI.sub("", line).rsplit("\r", 1)[-1].rstrip() for line in lines)
    return [line for line in cleaned if line.strip()]


def log_tail(lines: Sequence[str], max_bytes: int = TAIL_BYTES) -> str:
    """The last lines that fit in `max_bytes` of UTF-8; a last line longer than that alone
    is cut to its end, marked with a leading '…'."""
    kept: list[str] = []
    size = 0
    for line in reversed(clean_log_lines(lines)):
        cost = len(line.encode()) + (1 if kept else 0)
        if size + cost > max_bytes:
            if not kept:
                end = line.encode()[-(max_bytes - len("…".encode())) :]
                kept.append("…" + end.decode("utf-8", "ignore"))
            break
        kept.append(line)
        size += cost
    return "\n".join(reversed(kept))


def failure_error(
    end_reason: str | None, exit_code: int | None, lines: Sequence[str] = (), detail: str | None = None
) -> RunError:
    """What RunWisp has instead of an error message: reason, exit code, the log's tail."""
    head = "no exit code" if exit_code is None else f"exit code {exit_code}"
    if detail:
        head = f"{head}: {detail}"
    tail = log_tail(lines)
    trace = "\n".join(clean_log_lines(lines))[-TRACE_CHARS:]
    return RunError(
        message=f"{head}\nlast log lines:\n{tail}" if tail else head,
        name=end_reason or "ended",
        stack_trace=trace or None,
    )


def with_log(snapshot: Snapshot, lines: Sequence[str]) -> Snapshot:
    """The snapshot with its error rebuilt from its metadata and these log lines."""
    m = snapshot.metadata
    error = failure_error(m.get("end_reason"), m.get("exit_code"), lines, m.get("event_error"))
    return replace(snapshot, error=error)


def parse_event(
    event: SseEvent, *, source: str, external_url: str | None = None, run_url: str | None = None
) -> Snapshot | None:
    """A run lifecycle event of the SSE stream -> Snapshot (via WEBHOOK: pushed news);
    None for every other event (ping, system, run.deleted...)."""
    if event.event not in RUN_EVENTS:
        return None
    what = f"event {event.event}" + (f" id {event.id}" if event.id else "")
    try:
        data = jsonin.loads(event.data)
    except BadJson as exc:
        raise SourceError(f"{what}: data is not JSON ({exc}): {_short(event.data)}") from None
    run, error = _unwrap_event(data)
    try:
        return parse_run(
            run, source=source, via=Via.WEBHOOK, external_url=external_url, run_url=run_url, event_error=error
        )
    except SourceError as exc:
        raise SourceError(f"{what}: {exc}") from exc


def _unwrap_event(data: object) -> tuple[object, str | None]:
    """events.RunEvent is {run, logPath?, error?}; tolerate a bare run object too."""
    if isinstance(data, dict) and isinstance(data.get("run"), dict):
        return data["run"], _text(data.get("error"))
    return data, None


def parse_webhook_body(
    body: object, *, source: str, external_url: str | None = None, run_url: str | None = None
) -> list[Snapshot]:
    """A pushed body (see the module docstring). All or nothing, like the Recoup kind."""
    links = {"external_url": external_url, "run_url": run_url}
    if isinstance(body, dict) and "runs" in body:
        runs = body["runs"]
        if not isinstance(runs, list) or not runs:
            raise SourceError("runs must be a non-empty list of run objects")
        return [_indexed(item, i, source, links) for i, item in enumerate(runs)]
    if isinstance(body, dict) and isinstance(body.get("kind"), str) and "status" not in body:
        return _notifier_payload(body, source=source, **links)
    if isinstance(body, dict):
        run, error = _unwrap_event(body)
        return [parse_run(run, source=source, via=Via.WEBHOOK, event_error=error, **links)]
    raise SourceError(
        f'body must be a run object, {{"run": ...}} or {{"runs": [...]}}, got {_type_name(body)}'
    )


def _indexed(item: object, index: int, source: str, links: dict[str, str | None]) -> Snapshot:
    try:
        return parse_run(item, source=source, via=Via.WEBHOOK, **links)
    except SourceError as exc:
        raise SourceError(f"runs[{index}]: {exc}") from exc


def _notifier_payload(
    body: dict[str, Any], *, source: str, external_url: str | None, run_url: str | None
) -> list[Snapshot]:
    """RunWisp's webhook notifier payload. Kinds about no run (service.fatal,
    notify.delivery_failed) are accepted and ignored."""
    kind = body["kind"]
    if not kind.startswith("run."):
        return []
    status, end_reason = NOTIFIER_KINDS.get(kind, ("ended", kind.removeprefix("run.")))
    run = body.get("run")
    if not isinstance(run, dict):
        raise SourceError(f"{kind}: run must be an object, got {_type_name(run)}")
    stamp = "start_at" if status == "running" else "end_at"
    item = {
        "id": run.get("id"),
        "task_name": body.get("task"),
        "status": status,
        "end_reason": end_reason,
        "exit_code": run.get("exit_code"),
        "triggered_by": run.get("triggered_by"),
        stamp: body.get("timestamp"),
    }
    links = external_url or run_url
    own_url = run.get("url") if isinstance(run.get("url"), str) else None
    snapshot = parse_run(item, source=source, via=Via.WEBHOOK, external_url=external_url, run_url=run_url)
    if not links and own_url and own_url.startswith(("https://", "http://")):
        snapshot = replace(snapshot, url=own_url)
    tail = body.get("output_tail")
    if snapshot.phase.problem:
        lines = tail.splitlines() if isinstance(tail, str) else []
        detail = _text(body.get("reason")) if snapshot.metadata["exit_code"] is None else None
        m = snapshot.metadata
        snapshot = replace(snapshot, error=failure_error(m["end_reason"], m["exit_code"], lines, detail))
    return [snapshot]


# -- HTTP ----------------------------------------------------------------------------------


class TaskRunnerClient:
    """RunWisp's REST API and run stream, over TCP or its Unix socket.

    Bearer token when `api_key` is set (no header at all otherwise, even if a shared client
    has a default one); redirects are not followed. Errors are SourceError (RateLimited for
    a 429, or a 503 with Retry-After: RunWisp's stream cap) with RunWisp's problem+json
    `title` and `detail` in the message. With `socket`, the client owns an HTTP client on
    that socket, opened on first use and closed by `aclose`.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient | None = None,
        *,
        base_url: str,
        api_key: str = "",
        socket: str | None = None,
        timeout: float = 15.0,
        stream_read_timeout: float = STREAM_READ_TIMEOUT,
        clock: Clock | None = None,
    ) -> None:
        self._shared = http if socket is None else None
        self._socket = socket
        self._owned: httpx2.AsyncClient | None = None
        self._base = base_url.rstrip("/")
        self._api_key, self._timeout, self._stream_timeout = api_key, timeout, stream_read_timeout
        self._clock: Clock = clock or SystemClock()
        self._style: str | None = None  # per-run paths that answered: PER_TASK | PER_RUN
        self._stream_path: str | None = None
        self.requests = 0

    @classmethod
    def for_source(
        cls, config: SourceConfig, http: httpx2.AsyncClient, options: TaskRunnerOptions | None = None
    ) -> TaskRunnerClient:
        options = options or TaskRunnerOptions.of(config)
        return cls(http, base_url=config.base_url, api_key=config.api_key, socket=options.socket)

    async def aclose(self) -> None:
        if self._owned is not None:
            owned, self._owned = self._owned, None
            await owned.aclose()

    @property
    def stream_path(self) -> str | None:
        """The stream path that answered last, once one did."""
        return self._stream_path

    # -- endpoints -----------------------------------------------------------------------

    async def list_runs(
        self, task: str | None, *, limit: int, offset: int = 0
    ) -> tuple[list[object], int | None]:
        """(raw items newest first, `total`). `task` None: every task's runs."""
        path = f"/api/tasks/{quote(task, safe='')}/runs" if task else "/api/runs"
        params = {
            "limit": str(limit),
            "offset": str(offset),
            "sort_field": "created_at",
            "sort_direction": "desc",
        }
        response = await self._get(path, params)
        what = _what(response)
        body = self._json(response, what)
        runs = body.get("runs", _MISSING) if isinstance(body, dict) else _MISSING
        if runs is None:  # Go's nil slice: no runs
            runs = []
        if not isinstance(runs, list):
            raise SourceError(
                f"{what}: no runs list in the body (HTTP {response.status_code}): {self._excerpt(response)}"
            )
        total = _whole_number(body.get("total")) if isinstance(body, dict) else None
        return runs, total

    async def get_run(self, task: str, run_id: str) -> JSON | None:
        """One run; None when neither per-run path knows it (HTTP 404)."""
        response = await self._per_run(task, run_id, "", {})
        if response is None:
            return None
        what = _what(response)
        body = self._json(response, what)
        if not isinstance(body, dict):
            raise SourceError(f"{what}: the body is {_type_name(body)}, not a run")
        return body

    async def log_lines(self, task: str, run_id: str, count: int) -> list[str]:
        """The last `count` lines of a run's log (`from=-count`), as text."""
        response = await self._per_run(task, run_id, "/log", {"from": str(-count), "limit": str(count)})
        if response is None:
            raise SourceError(f"log of run {run_id}: not found (HTTP 404)")
        what = _what(response)
        body = self._json(response, what)
        lines = body.get("lines") if isinstance(body, dict) else _MISSING
        if lines is None:
            return []
        if not isinstance(lines, list):
            raise SourceError(f"{what}: no lines list in the body: {self._excerpt(response)}")
        texts = [line.get("text") if isinstance(line, dict) else line for line in lines]
        return [t for t in texts if isinstance(t, str)][-count:]

    @contextlib.asynccontextmanager
    async def stream(self, last_event_id: str | None) -> AsyncIterator[AsyncIterable[str]]:
        """The run stream's lines. Tries /api/events/stream, then /api/runs/stream on a 404,
        until one answers; sends Last-Event-ID when given."""
        paths = (self._stream_path,) if self._stream_path else (EVENTS_STREAM, RUNS_STREAM)
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if last_event_id:
            headers["last-event-id"] = last_event_id
        timeout = httpx2.Timeout(self._timeout, read=self._stream_timeout)
        for index, path in enumerate(paths):
            response = await self._send(path, {}, headers=headers, timeout=timeout, stream=True)
            try:
                if response.status_code in (404, 405) and index + 1 < len(paths):
                    continue
                what = f"GET {path}"
                if not 200 <= response.status_code < 300:
                    await response.aread()
                    self._check(response, what)
                kind = response.headers.get("content-type", "")
                if not kind.startswith("text/event-stream"):
                    await response.aread()
                    kind = kind or "no content type"
                    raise SourceError(f"{what}: not an event stream ({kind}): {self._excerpt(response)}")
                self._stream_path = path
                async with contextlib.aclosing(_lines(response, what)) as lines:
                    yield lines
                return
            finally:
                await response.aclose()

    # -- plumbing ------------------------------------------------------------------------

    async def _per_run(
        self, task: str, run_id: str, suffix: str, params: dict[str, str]
    ) -> httpx2.Response | None:
        styles = (self._style,) if self._style else (PER_TASK, PER_RUN)
        for style in styles:
            assert style is not None
            run_q = quote(run_id, safe="")
            base = (
                f"/api/tasks/{quote(task, safe='')}/runs/{run_q}"
                if style == PER_TASK
                else f"/api/runs/{run_q}"
            )
            response = await self._get(base + suffix, params)
            if response.status_code in (404, 405):
                continue
            self._check(response, _what(response))
            self._style = style
            return response
        return None

    async def _get(self, path: str, params: dict[str, str]) -> httpx2.Response:
        return await self._send(path, params, headers={"accept": "application/json"}, timeout=self._timeout)

    async def _send(
        self,
        path: str,
        params: dict[str, str],
        *,
        headers: dict[str, str],
        timeout: float | httpx2.Timeout,
        stream: bool = False,
    ) -> httpx2.Response:
        url = self._base + path
        http = self._http()
        try:
            request = http.build_request("GET", url, params=params, headers=headers, timeout=timeout)
            request.headers.pop("authorization", None)  # never a shared client's default
            if self._api_key:
                request.headers["authorization"] = f"Bearer {self._api_key}"
            self.requests += 1
            return await http.send(request, auth=None, follow_redirects=False, stream=stream)
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            where = f"{url} (socket {self._socket})" if self._socket else url
            raise SourceError(f"GET {where} failed: {type(exc).__name__}: {str(exc) or 'no detail'}") from exc

    def _http(self) -> httpx2.AsyncClient:
        if self._shared is not None:
            return self._shared
        if self._owned is None:
            transport = httpx2.AsyncHTTPTransport(uds=self._socket) if self._socket else None
            self._owned = httpx2.AsyncClient(
                transport=transport,
                timeout=self._timeout,
                trust_env=False,
                headers={"user-agent": "run-relay"},
            )
        return self._owned

    def _check(self, response: httpx2.Response, what: str) -> None:
        status = response.status_code
        if status == 429 or (status == 503 and "retry-after" in response.headers):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock.now())
            raise RateLimited(
                f"{what}: HTTP {status}: {self._explain(response)}, retry after {retry_after:g}s", retry_after
            )
        if not 200 <= status < 300:
            raise SourceError(f"{what}: HTTP {status}: {self._explain(response)}")

    def _json(self, response: httpx2.Response, what: str) -> object:
        self._check(response, what)
        try:
            return jsonin.loads(response.content)
        except ValueError:
            raise SourceError(
                f"{what}: invalid JSON (HTTP {response.status_code}): {self._excerpt(response)}"
            ) from None

    def _explain(self, response: httpx2.Response) -> str:
        """problem+json (RFC 9457): title, detail and the first field errors; else an excerpt."""
        problem = _problem(response)
        return self._clean(problem) if problem else self._excerpt(response)

    def _excerpt(self, response: httpx2.Response) -> str:
        text = self._clean(" ".join(response.text[: EXCERPT_CHARS * 20].split()))
        return (text[:EXCERPT_CHARS] + "...") if len(text) > EXCERPT_CHARS else text or "(empty)"

    def _clean(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return redact(text)


_MISSING: Any = object()


def _what(response: httpx2.Response) -> str:
    return "GET " + response.request.url.raw_path.decode("ascii", "replace")


def _problem(response: httpx2.Response) -> str | None:
    try:
        body = jsonin.loads(response.content)
    except ValueError:
        return None
    is_problem = "problem+json" in response.headers.get("content-type", "")
    if not isinstance(body, dict) or not (is_problem or "title" in body or "detail" in body):
        return None
    parts = [p for p in (_text(body.get("title")), _text(body.get("detail"))) if p]
    errors = body.get("errors")
    if not isinstance(errors, list):
        errors = []
    found = [
        ": ".join(t for t in (_text(e.get("location")), _text(e.get("message"))) if t)
        for e in errors[:3]
        if isinstance(e, dict)
    ]
    if found := [f for f in found if f]:
        parts.append("; ".join(found))
    return ": ".join(parts) or None


async def _lines(response: httpx2.Response, what: str) -> AsyncGenerator[str, None]:
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx2.HTTPError as exc:
        raise SourceError(f"{what}: stream dropped: {type(exc).__name__}: {str(exc) or 'no detail'}") from exc


# -- polling and streaming -----------------------------------------------------------------


class TaskRunnerPoller:
    """One RunWisp source: the stream when `stream: true`, reconciliation passes always.

    Every snapshot, from either path, goes through `_handle` under one lock, so a failure
    seen by the stream and by a list at the same moment fetches its log once and makes one
    transition.
    """

    def __init__(
        self,
        config: SourceConfig,
        client: TaskRunnerClient,
        store: Store,
        ingest: Ingest,
        clock: Clock,
        *,
        options: TaskRunnerOptions | None = None,
        max_pages: int = MAX_PAGES,
        max_rechecks: int = MAX_RECHECKS,
        reconnect_min: float = MIN_RECONNECT,
        reconnect_max: float = MAX_RECONNECT,
    ) -> None:
        self._config, self._client, self._store, self._ingest = config, client, store, ingest
        self._clock = clock
        self._options = options or TaskRunnerOptions.of(config)
        self._max_pages, self._max_rechecks = max_pages, max_rechecks
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()  # a (re)connected stream asks for a pass now
        self._watching_since: datetime | None = None
        self._cycle = 0
        self._rechecked_in: dict[str, int] = {}
        self.stream: StreamFollower | None = None
        if self._options.stream:
            self.stream = StreamFollower(
                client.stream,
                on_event=self.handle_event,
                on_connect=self._on_connect,
                name=config.name,
                min_delay=reconnect_min,
                max_delay=reconnect_max,
            )

    @property
    def options(self) -> TaskRunnerOptions:
        return self._options

    async def poll_once(self) -> PollReport:
        """One reconciliation pass. Raises RateLimited or SourceError when listing fails."""
        try:
            report = await self._pass()
        except Exception as exc:
            health.poll_outcome(self._config.name, self._clock.now(), exc)
            raise
        health.poll_outcome(self._config.name, self._clock.now())
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Stream (if on) and reconcile until `stop`; never raises. Closes what the client
        opened (a Unix-socket connection) when it ends."""
        log.info(
            "poller_started source=%s every=%gs stream=%s",
            self._config.name,
            self._config.poll_every,
            "on" if self.stream else "off",
        )
        try:
            loops = [self._reconcile_loop(stop)]
            if self.stream is not None:
                loops.append(self.stream.run(stop))
            await asyncio.gather(*loops)
        finally:
            await self._client.aclose()
            log.info("poller_stopped source=%s", self._config.name)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def handle_event(self, event: SseEvent) -> None:
        """One stream event: a run event becomes a snapshot and is ingested."""
        snapshot = parse_event(
            event,
            source=self._config.name,
            external_url=self._options.external_url,
            run_url=self._config.run_url,
        )
        if snapshot is None or (self._options.tasks and snapshot.task not in self._options.tasks):
            return
        await self._handle(snapshot, PollReport())

    # -- one pass ------------------------------------------------------------------------

    async def _pass(self) -> PollReport:
        report = PollReport()
        before = self._client.requests
        if self._watching_since is None:
            self._watching_since = await self._store.watching_since(self._config.name, self._clock.now())
        self._cycle += 1
        seen: set[str] = set()
        tasks: Sequence[str | None] = self._options.tasks or (None,)
        errors: list[str] = []
        for task in tasks:
            try:
                await self._list_task(task, seen, report)
            except RateLimited:
                raise
            except SourceError as exc:
                errors.append(str(exc))
        if len(errors) < len(tasks):  # RunWisp answered: worth asking about each active run
            await self._recheck(seen, report)
        report.requests = self._client.requests - before
        if errors:
            raise SourceError("; ".join(errors))
        return report

    async def _list_task(self, task: str | None, seen: set[str], report: PollReport) -> None:
        limit, offset = self._config.limit, 0
        for _ in range(self._max_pages):
            items, total = await self._client.list_runs(task, limit=limit, offset=offset)
            report.listed += len(items)
            offset += len(items)
            fresh, oldest = True, None
            for index, item in enumerate(items):
                snapshot = self._parse_listed(item, task, offset - len(items) + index, report)
                if snapshot is None:
                    continue
                created = snapshot.created_at or snapshot.updated_at
                oldest = created if oldest is None else min(oldest, created)
                if snapshot.run_id in seen:
                    continue
                seen.add(snapshot.run_id)
                state = await self._handle(snapshot, report)
                fresh = fresh and not (state is not None and state.snapshot.terminal)
            more = len(items) >= limit and (total is None or offset < total)
            if not (
                fresh
                and more
                and oldest is not None
                and self._watching_since
                and oldest >= self._watching_since
            ):
                return

    def _parse_listed(
        self, item: object, task: str | None, index: int, report: PollReport
    ) -> Snapshot | None:
        try:
            return self._parse(item, task)
        except SourceError as exc:
            report.invalid += 1
            log.warning(
                "poll_item_invalid source=%s task=%s index=%d reason=%s",
                self._config.name,
                task or "*",
                index,
                exc,
            )
            return None

    async def _recheck(self, seen: set[str], report: PollReport) -> None:
        states = [
            s for s in await self._store.active_runs(self._config.name) if s.snapshot.run_id not in seen
        ]
        active = {s.snapshot.run_id for s in states}
        self._rechecked_in = {k: v for k, v in self._rechecked_in.items() if k in active}
        states.sort(key=lambda s: (self._rechecked_in.get(s.snapshot.run_id, 0), s.snapshot.updated_at))
        for state in states[: self._max_rechecks]:
            run_id = state.snapshot.run_id
            self._rechecked_in[run_id] = self._cycle
            report.rechecked += 1
            snapshot = await self._fetch(state.snapshot)
            if snapshot is not None:
                await self._handle(snapshot, report)

    async def _fetch(self, known: Snapshot) -> Snapshot | None:
        """By id; None (logged) on 404 or any SourceError but a 429."""
        task = str(known.metadata.get("task_name") or known.task)
        try:
            raw = await self._client.get_run(task, known.run_id)
            if raw is not None:
                return self._parse(raw, task)
            reason = "not found (HTTP 404)"
        except RateLimited:
            raise
        except SourceError as exc:
            reason = str(exc)
        log.warning("poll_recheck_failed source=%s run=%s reason=%s", self._config.name, known.run_id, reason)
        return None

    def _parse(self, item: object, task: str | None) -> Snapshot:
        return parse_run(
            item,
            source=self._config.name,
            via=Via.POLL,
            task=task,
            external_url=self._options.external_url,
            run_url=self._config.run_url,
        )

    # -- every snapshot ------------------------------------------------------------------

    async def _handle(self, snapshot: Snapshot, report: PollReport) -> RunState | None:
        """Ingest unless the run is stored as finished; a problem that is news gets its log
        first. Returns the run's state before this snapshot."""
        async with self._lock:
            state = (await self._store.known_runs(self._config.name, [snapshot.run_id])).get(snapshot.run_id)
            if state is not None and state.snapshot.terminal:
                return state  # terminal is absorbing: nothing later can be a transition
            if snapshot.phase.problem and self._is_news(snapshot, state):
                snapshot = await self._with_log(snapshot, report)
            await self._ingest(snapshot)
            report.ingested += 1
            return state

    def _is_news(self, snapshot: Snapshot, state: RunState | None) -> bool:
        if state is not None or snapshot.via is Via.WEBHOOK or self._watching_since is None:
            return True
        return (snapshot.finished_at or snapshot.updated_at) >= self._watching_since

    async def _with_log(self, snapshot: Snapshot, report: PollReport) -> Snapshot:
        if self._options.log_lines <= 0:
            return snapshot
        task = str(snapshot.metadata.get("task_name") or snapshot.task)
        try:
            lines = await self._client.log_lines(task, snapshot.run_id, self._options.log_lines)
        except SourceError as exc:  # a 429 too: the transition must not wait for a log
            log.warning(
                "log_fetch_failed source=%s run=%s reason=%s", self._config.name, snapshot.run_id, exc
            )
            return snapshot
        report.fetched_by_id += 1
        return with_log(snapshot, lines)

    # -- the loops -----------------------------------------------------------------------

    async def _on_connect(self) -> None:
        self._wake.set()

    async def _reconcile_loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            delay, failures = await guarded_cycle(
                self._config.name, self.poll_once, stop, failures, every=self._config.poll_every
            )
            # after a good pass a stream reconnect may ask for the next one early
            wakeable = failures == 0 and delay == self._config.poll_every
            if delay is None or await self._pause(stop, delay, wakeable):
                break

    async def _pause(self, stop: asyncio.Event, delay: float, wakeable: bool) -> bool:
        """Wait `delay` (less if a stream reconnect asks for a pass); True once stopped."""
        if not wakeable:
            return await stopped_within(stop, delay)
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        return stop.is_set()


# -- the kind --------------------------------------------------------------------------------


def bearer_token(config: SourceConfig, headers: Mapping[str, str], body: bytes) -> None:
    """RunWisp's notifiers sign nothing: `Authorization: Bearer <webhook_secret>` instead (any
    of the source's secrets)."""
    got = next((v for k, v in headers.items() if k.lower() == "authorization"), "").encode()
    if not any(hmac.compare_digest(got, f"Bearer {s}".encode()) for s in config.webhook_secrets):
        raise SignatureError("expected the header Authorization: Bearer <the source's webhook_secret>")


def _parse_webhook(body: object, config: SourceConfig) -> list[Snapshot]:
    try:
        options = TaskRunnerOptions.of(config)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    return parse_webhook_body(
        body, source=config.name, external_url=options.external_url, run_url=config.run_url
    )


def _open_poller(
    config: SourceConfig, http: httpx2.AsyncClient, store: Store, ingest: Ingest, clock: Clock
) -> TaskRunnerPoller:
    options = TaskRunnerOptions.of(config)
    client = TaskRunnerClient.for_source(config, http, options)
    return TaskRunnerPoller(config, client, store, ingest, clock, options=options)


def _check_options(config: SourceConfig) -> None:
    TaskRunnerOptions.of(config)


# RunWisp runs with auth off, or on its Unix socket, as often as with a token
KIND = SourceKind(
    "taskrunner",
    _parse_webhook,
    authenticate=bearer_token,
    open_poller=_open_poller,
    check_options=_check_options,
    secret_is_key=False,  # a bearer token
    needs_credentials=False,
    statuses=frozenset({*STATUSES, *END_REASONS, "stopped"}),  # see display_status
)
