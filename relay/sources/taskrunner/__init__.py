"""The self-hosted task runner, RunWisp (docs/platforms.md 1 and 4.1): `kind: taskrunner`.

Ways in, all ending in `Pipeline.ingest`:

- **stream** (`stream: true`): RunWisp's SSE run feed. `/api/events/stream` (newer: every
  event has an id and a reconnect with `Last-Event-ID` replays what was missed) is tried
  first, `/api/runs/stream` (the seed's era, no replay) when that path is unknown. Events
  `run.created|started|completed|failed|updated` carry `{run, error?}`; the phase is read
  from `run.status` / `run.end_reason`, never from the event name. Reconnects back off
  exponentially (`stream.StreamFollower`) and every (re)connect wakes a
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

from relay.sources.base import PollerParts, SourceKind
from relay.sources.taskrunner.client import TaskRunnerClient
from relay.sources.taskrunner.options import TaskRunnerOptions, check_options
from relay.sources.taskrunner.parse import END_REASONS as END_REASONS
from relay.sources.taskrunner.parse import STATUSES
from relay.sources.taskrunner.poll import TaskRunnerPoller
from relay.sources.taskrunner.webhook import bearer_token, parse_webhook


def make_poller(parts: PollerParts) -> TaskRunnerPoller:
    options = TaskRunnerOptions.of(parts.config)
    client = TaskRunnerClient.for_source(parts.config, parts.http, options)
    return TaskRunnerPoller(
        parts.config,
        client,
        parts.store,
        parts.ingest,
        parts.clock,
        options=options,
        health=parts.state.health,
    )


# RunWisp runs with auth off, or on its Unix socket, as often as with a token
KIND = SourceKind(
    "taskrunner",
    parse_webhook,
    authenticate=bearer_token,
    make_poller=make_poller,
    check_options=check_options,
    secret_is_key=False,  # a bearer token
    needs_credentials=False,
    statuses=frozenset({*STATUSES, *END_REASONS, "stopped"}),  # see display_status
)
