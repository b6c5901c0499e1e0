"""What each channel of a rule would receive for a run, without sending anything.

Used by `relay preview` and POST /admin/preview. The run is treated as first seen in its
current status, and shown for every channel the rule names, enabled or not. Every rule says
whether it matches and, when not, why (relay/rules/explain.py): `why_not` for the rule asked
about, `rules` for all of them, in the order they are matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from relay.channels.apprise_channel import build, prefers_html
from relay.clock import SystemClock
from relay.config import ChannelConfig, Rule, RuleSet
from relay.dispatch import plan
from relay.errors import RelayError
from relay.ids import new_id
from relay.models import Delivery, Snapshot, Transition
from relay.redaction import redact_run
from relay.render.email import html_body
from relay.render.slack import slack_payload
from relay.render.text import console_text, text_body
from relay.rules.explain import verdicts
from relay.silences import Silence
from relay.store import Store


class PreviewError(RelayError):
    pass


def preview(
    ruleset: RuleSet,
    rule_name: str,
    run: Snapshot,
    silences: Sequence[Silence] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    rule = _rule(ruleset, rule_name)
    transition = Transition(
        id="preview",
        source=run.source,
        run_id=run.run_id,
        from_phase=None,
        to_phase=run.phase,
        from_status=None,
        to_status=run.status,
        observed_at=now or SystemClock().now(),
        via=run.via,
    )
    # every channel the rule names, enabled or not: a preview is for the ones being set up too
    channels = {
        name: replace(ruleset.channels[name], url=ruleset.channels[name].url or "-") for name in rule.notify
    }
    # the message as sent at once: digests, groups and once-per keys are not simulated
    shown = replace(rule, first_seen="always", digest=None, group_window=None, once_per=None)
    deliveries = plan(transition, run, [shown], channels, now=transition.observed_at, ids=new_id).deliveries
    task = redact_run(run, rule.redaction)[0].task
    # made up, so first_seen is left out; silences are those in force now
    every = verdicts(ruleset.rules, transition, run, silences=silences, first_seen=False)
    asked = next(v for v in every if v.rule == rule.name)
    return {
        "rule": rule.name,
        "matches": rule.matcher.matches(transition, run),
        "why_not": asked.why_not,
        "rules": [v.as_json() for v in every],
        "run": {"source": run.source, "id": run.run_id, "task": task, "status": run.status},
        "channels": {d.channel: _render(ruleset.channels[d.channel], d) for d in deliveries},
    }


def _rule(ruleset: RuleSet, name: str) -> Rule:
    for rule in ruleset.rules:
        if rule.name == name:
            return rule
    known = ", ".join(r.name for r in ruleset.rules) or "none"
    raise PreviewError(f"no rule named {name!r} (rules: {known})")


def _render(channel: ChannelConfig, d: Delivery) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": channel.kind, "enabled": channel.enabled}
    if channel.kind == "console":
        return out | {"text": console_text(channel.name, d.message)}
    if channel.kind == "slack":
        return out | {"payload": slack_payload(d.message)}
    if channel.kind == "webhook":
        return out | {"payload": d.payload}
    html = channel.enabled and prefers_html(build(channel.url))
    return (
        out
        | {"title": d.message.title, "text": text_body(d.message)}
        | ({"html": html_body(d.message)} if html else {})
    )


async def run_for_preview(
    ruleset: RuleSet, store: Store, source: str | None, body: object | None, run_id: object
) -> Snapshot:
    """The run to preview: parsed from a platform's run object, or read from the store."""
    from relay.errors import SourceError
    from relay.sources.registry import kind_of

    if not ruleset.sources:
        raise PreviewError("the rules file defines no source")
    name = source or next(iter(ruleset.sources))
    config = ruleset.sources.get(name)
    if config is None:
        raise PreviewError(f"no source named {name!r}")
    if body is not None:
        try:
            parsed = kind_of(config.kind).parse_webhook(body, config)
        except SourceError as exc:
            raise PreviewError(f"not a run of a {config.kind} source: {exc}") from exc
        if not parsed:  # e.g. an alert about a deployment
            raise PreviewError(f"the body holds no run of a {config.kind} source")
        return parsed[0]
    if not isinstance(run_id, str):
        raise PreviewError("give a run (a platform's run object) or a run_id")
    found = await store.known_runs(name, [run_id])
    if run_id not in found:
        raise PreviewError(f"no run {run_id!r} of source {name!r} in the store")
    return found[run_id].snapshot
