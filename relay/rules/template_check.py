"""`relay check` tries every template of a rules file on sample runs, as `amtool` does.

A template compiles when rules.yaml loads, but only a run shows whether it renders:
`{{ run.output.size + 1 }}` compiles and raises for every run without an output. At run time
such a rule sends its channels the default message (relay/render/templates.py); here the
operator learns of it before then.

The sample runs are what a source of each kind would make of a platform's run object in
every status the kind knows (parsed by the kind itself, so fields and metadata have their
real shapes): an error when the run failed, a create-content output when it completed, tags
and timestamps. A template is tried on the runs of the sources and statuses its rule's match
allows; conditions on task, tags and output are left out, as samples would not meet them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.config import Rule, RuleSet, SourceConfig
from relay.lifecycle import TRIGGER_STATUSES
from relay.models import Phase, Snapshot, Transition
from relay.render.templates import RuleTemplate, render

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # fixed: the same file always reports the same
# recoup's own statuses for its scheduled tasks (relay/sources/recoup/schedules.py)
SCHEDULE_STATUSES = {"ENABLED": Phase.RUNNING, "DISABLED": Phase.WAITING, "MISSED": Phase.MISSED}


@dataclass(frozen=True)
class Sample:
    label: str  # e.g. "FAILED recoup", "timeout cron-box (taskrunner)"
    run: Snapshot


def template_failures(ruleset: RuleSet) -> list[str]:
    """One line per template that fails: `file:line: template of rule 'x' fails for ...`."""
    samples = list(sample_runs(ruleset))
    lines = []
    for rule in ruleset.rules:
        for what, template, kind in _templates(rule):
            failed = [(s, e) for s, e in _tries(rule, template, kind, samples) if e]
            if failed:
                (sample, error), more = failed[0], len(failed) - 1
                lines.append(
                    f"{ruleset.path}:{template.line}: {what} of rule {rule.name!r} fails for a"
                    f" {sample.label} run: {error}" + (f" (and {more} more sample runs)" if more else "")
                )
    return lines


def sample_runs(ruleset: RuleSet) -> Iterator[Sample]:
    """Every status of every source of the file (one source per kind when it names none)."""
    from relay.sources.registry import KINDS

    sources = list(ruleset.sources.values()) or [
        SourceConfig(name=kind, kind=kind, base_url="http://127.0.0.1") for kind in KINDS
    ]
    for source in sources:
        label = source.name if source.name == source.kind else f"{source.name} ({source.kind})"
        for status, run in _runs(source):
            yield Sample(f"{status} {label}", run)


def _templates(rule: Rule) -> Iterator[tuple[str, RuleTemplate, str | None]]:
    if rule.template is not None:
        yield "template", rule.template, None
        for kind, override in rule.template.kinds.items():
            yield f"{kind} template", override, kind
    if rule.once_per is not None:
        yield "once_per key", rule.once_per.key, None


def _tries(
    rule: Rule, template: RuleTemplate, kind: str | None, samples: list[Sample]
) -> Iterator[tuple[Sample, str | None]]:
    # an override renders over the rule's template, as it does when sent
    whole = rule.template if kind and rule.template else template
    matcher = replace(
        rule.matcher,
        tasks=None,
        from_statuses=None,
        from_phases=None,
        tags=(),
        test=None,
        output=(),
        recovered=None,
    )
    for sample in samples:
        transition = _transition(sample.run)
        if matcher.matches(transition, sample.run):
            yield sample, render(whole, transition, sample.run, kind)[1]


def _transition(run: Snapshot) -> Transition:
    before = Phase.RUNNING if run.terminal else None
    return Transition(
        id="check",
        source=run.source,
        run_id=run.run_id,
        from_phase=before,
        to_phase=run.phase,
        from_status="EXECUTING" if before else None,
        to_status=run.status,
        observed_at=NOW,
        via=run.via,
    )


def _runs(source: SourceConfig) -> Iterator[tuple[str, Snapshot]]:
    from relay.sources.registry import kind_of

    parse = kind_of(source.kind).parse_webhook
    if source.kind == "taskrunner":
        from relay.sources.taskrunner import END_REASONS

        for reason in ("pending", "running", *END_REASONS):
            (run,) = parse(_runwisp_run(reason), source)
            yield reason, run
        return
    for status in TRIGGER_STATUSES:
        (run,) = parse(_trigger_run(status), source)
        yield status, run
    if source.kind == "recoup":
        (template,) = parse(_trigger_run("COMPLETED"), source)
        for status, phase in SCHEDULE_STATUSES.items():
            yield status, replace(template, status=status, phase=phase, output=None, error=None)


def _trigger_run(status: str) -> dict[str, Any]:
    phase = TRIGGER_STATUSES[status]
    run: dict[str, Any] = {
        "id": "run_sample",
        "taskIdentifier": "create-content",
        "status": status,
        "createdAt": _iso(NOW - timedelta(minutes=3)),
        "startedAt": _iso(NOW - timedelta(minutes=2)),
        "updatedAt": _iso(NOW),
        "tags": ["account:sample"],
        "metadata": {"artist": "sample"},
        "durationMs": 120_000,
        "costInCents": 3.5,
        "isTest": False,
    }
    if phase.terminal:
        run["finishedAt"] = _iso(NOW)
    if phase == Phase.SUCCEEDED:
        run["output"] = {
            "videoSourceUrl": "https://v3.fal.media/files/sample/final.mp4",
            "captionText": "new single out now",
            "template": "artist-caption-bedroom",
            "audio": {"songTitle": "Midnight"},
        }
    elif phase.problem:
        run["error"] = {"message": "ffmpeg exited with code 1", "name": "Error", "stackTrace": "at render"}
    return run


def _runwisp_run(reason: str) -> dict[str, Any]:
    ended = reason not in ("pending", "running")
    return {
        "id": "run_sample",
        "task_name": "backup",
        "status": "ended" if ended else reason,
        "end_reason": reason if ended else None,
        "exit_code": (0 if reason == "success" else 1) if ended else None,
        "triggered_by": "schedule",
        "created_at": _iso(NOW - timedelta(minutes=3)),
        "start_at": _iso(NOW - timedelta(minutes=2)),
        "end_at": _iso(NOW) if ended else None,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
