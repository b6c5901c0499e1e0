"""Backtest: a candidate rules.yaml against the transitions already recorded, beside the rules
in force. Nothing is sent and nothing is written: the store is only read.

Each recorded transition (at most MAX_TRANSITIONS, oldest first from `since`) is matched and
planned as the relay would have done it then (relay/dispatch.py `plan`, at the transition's
time, with the silences of that time), once with the candidate and once with the rules in force.
Per rule and channel: the messages it would have sent (and how many a silence would have held
back, and digest items), the runs it would notify, those it would notify that the rules in force
do not, those it would no longer notify, and a few rendered examples.

What it cannot know: a transition is matched with its run as stored now (its latest snapshot:
task, tags and output as they are now); grouping, once_per and rate limits, which fold messages
by time, are not simulated: each match counts as one message.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from relay import secrets
from relay.config import RuleSet, load_ruleset
from relay.dispatch import plan
from relay.errors import ConfigError, ConfigErrors, RelayError
from relay.models import DeliveryStatus, Snapshot, Transition
from relay.render.escape import one_line
from relay.render.payload import iso
from relay.rules.index import RuleIndex
from relay.silences import Silence
from relay.store import Store

MAX_TRANSITIONS = 10_000  # transitions scanned at most (said in the answer)
EXAMPLES = 3  # rendered examples per rule and channel
RUNS_SHOWN = 20  # runs listed per rule and channel (all are counted)
CANDIDATE = "candidate.yaml"  # the name errors give a candidate sent as text

Key = tuple[str, str]  # (rule, channel)


class BacktestError(RelayError):
    pass


@dataclass
class Tally:
    """What one rule would have done on one channel."""

    messages: int = 0
    silenced: int = 0
    digest_items: int = 0
    runs: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, run_id) -> task
    examples: list[dict[str, Any]] = field(default_factory=list)


def load_candidate(text: str) -> RuleSet:
    """A rules.yaml sent as text, loaded as the relay loads its own (errors: ConfigError, with
    the line, the file named `candidate.yaml`)."""
    import relay.sources.registry  # noqa: F401  (the source kinds register their options)

    with tempfile.TemporaryDirectory(prefix="relay-backtest-") as folder:
        path = Path(folder) / CANDIDATE
        try:
            path.write_text(text, encoding="utf-8")
            return load_ruleset(path)
        except ConfigErrors as exc:
            raise ConfigErrors([_renamed(e, str(path)) for e in exc.errors]) from None
        except ConfigError as exc:
            raise _renamed(exc, str(path)) from None
        except (yaml.YAMLError, UnicodeError) as exc:  # e.g. a control character PyYAML refuses
            raise ConfigError(f"cannot read: {str(exc).replace(str(path), CANDIDATE)}", CANDIDATE) from None


def _renamed(exc: ConfigError, path: str) -> ConfigError:
    return ConfigError(exc.message.replace(path, CANDIDATE), CANDIDATE, exc.line)


async def backtest(
    in_force: RuleSet, candidate: RuleSet, store: Store, since: datetime, limit: int = MAX_TRANSITIONS
) -> dict[str, Any]:
    found = await store.transitions_since(since, limit + 1)
    rows, truncated = found[:limit], len(found) > limit
    silences = await store.silences()
    new, old = _simulate(candidate, rows, silences), _simulate(in_force, rows, silences)
    keys = list(new) + [k for k in old if k not in new]
    every_new = _union(new.values())
    every_old = _union(old.values())
    return {
        "since": iso(since),
        "transitions": len(rows),
        "limit": limit,
        "truncated": truncated,
        "first": iso(rows[0][0].observed_at) if rows else None,
        "last": iso(rows[-1][0].observed_at) if rows else None,
        "rules": [_row(k, new.get(k), old.get(k), candidate, in_force) for k in keys],
        "runs": {
            "notified": len(every_new),
            "notified_in_force": len(every_old),
            "newly_notified": _runs(every_new, every_old),
            "no_longer_notified": _runs(every_old, every_new),
        },
    }


def _simulate(
    ruleset: RuleSet, rows: Sequence[tuple[Transition, Snapshot]], silences: Sequence[Silence]
) -> dict[Key, Tally]:
    index, tallies = RuleIndex(ruleset.rules), dict[Key, Tally]()
    numbers = itertools.count(1)
    for transition, run in rows:
        matched = index.matching(transition, run)
        if not matched:
            continue
        planned = plan(
            transition,
            run,
            matched,
            ruleset.channels,
            now=transition.observed_at,
            ids=lambda: f"backtest-{next(numbers)}",
            silences=silences,
        )
        for d in planned.deliveries:
            tally = tallies.setdefault((d.rule, d.channel), Tally())
            if d.status == DeliveryStatus.SILENCED:
                tally.silenced += 1
                continue
            tally.messages += 1
            tally.runs[(run.source, run.run_id)] = run.task
            if len(tally.examples) < EXAMPLES:
                tally.examples.append(_example(transition, run, d.message.title, d.message.body))
        for item in planned.digest_items:
            tally = tallies.setdefault((item.rule, item.channel), Tally())
            tally.digest_items += 1
            tally.runs[(run.source, run.run_id)] = run.task
    return tallies


def _example(transition: Transition, run: Snapshot, title: str, body: str) -> dict[str, Any]:
    # a candidate's template may name ${ENV} values: every one substituted is a secret, masked
    return {
        "run": {"source": run.source, "id": run.run_id, "task": one_line(run.task)},
        "observed_at": iso(transition.observed_at),
        "transition": f"{transition.from_status or 'unknown'} -> {transition.to_status}",
        "title": secrets.redact(title),
        "body": secrets.redact(body),
    }


def _row(
    key: Key, now: Tally | None, old: Tally | None, candidate: RuleSet, in_force: RuleSet
) -> dict[str, Any]:
    new, was = now or Tally(), old or Tally()
    return {
        "rule": key[0],
        "channel": key[1],
        "in_candidate": any(r.name == key[0] and key[1] in r.notify for r in candidate.rules),
        "in_force": any(r.name == key[0] and key[1] in r.notify for r in in_force.rules),
        "messages": new.messages,
        "silenced": new.silenced,
        "digest_items": new.digest_items,
        "runs": len(new.runs),
        "messages_in_force": was.messages,
        "newly_notified": _runs(new.runs, was.runs),
        "no_longer_notified": _runs(was.runs, new.runs),
        "examples": new.examples,
    }


def _union(tallies: Iterable[Tally]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for tally in tallies:
        found.update(tally.runs)
    return found


def _runs(these: dict[tuple[str, str], str], minus: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The runs in `these` and not in `minus`: how many, and the first RUNS_SHOWN."""
    only = [(k, task) for k, task in these.items() if k not in minus]
    shown = [{"source": s, "id": i, "task": one_line(task)} for (s, i), task in only[:RUNS_SHOWN]]
    return {"count": len(only), "runs": shown}


def lines(found: dict[str, Any]) -> list[str]:
    """The answer for a terminal: a table per rule and channel, then the runs that change."""
    more = " (there were more: the oldest were scanned)" if found["truncated"] else ""
    out = [f"{found['transitions']} transitions since {found['since']}, at most {found['limit']}{more}"]
    heads = ("MESSAGES", "SILENCED", "DIGEST", "IN FORCE", "NEW", "NO LONGER")
    out.append(f"{'RULE':<24}{'CHANNEL':<18}" + "".join(f"{h:>10}" for h in heads))
    for r in found["rules"]:
        counts = (r["messages"], r["silenced"], r["digest_items"], r["messages_in_force"])
        changed = (r["newly_notified"]["count"], r["no_longer_notified"]["count"])
        out.append(f"{r['rule']:<24}{r['channel']:<18}" + "".join(f"{n:>10}" for n in (*counts, *changed)))
    runs = found["runs"]
    out.append(
        f"runs notified: {runs['notified']} (rules in force: {runs['notified_in_force']}),"
        f" newly {runs['newly_notified']['count']}, no longer {runs['no_longer_notified']['count']}"
    )
    for sign, key in (("+", "newly_notified"), ("-", "no_longer_notified")):
        out += [f"  {sign} {r['source']}/{r['id']} ({r['task']})" for r in runs[key]["runs"]]
    out.append("nothing was sent")
    return out
