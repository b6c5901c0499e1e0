"""rules.yaml -> RuleSet. Every error names the file and the line.

Top level: `sources`, `channels`, `rules`, and optional `delivery`, `redaction`, `network`
(an allow list for URLs fetched because of run data) and `retention` (retention.py). See the
commented example `rules.yaml` at the repository root for every option. The source kinds
(relay.sources) register their options and statuses in relay.config.kinds; this module
imports no stage.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from croniter import croniter

from relay import secrets, signing
from relay.config import kinds
from relay.config.matching import build_matcher
from relay.config.quiet import read_quiet_hours, read_urgent
from relay.config.reader import Errors, Reader
from relay.config.retention import read_retention
from relay.config.schema import (
    CHANNEL_KINDS,
    COMMON_SOURCE_OPTIONS,
    FIRST_SEEN,
    MIN_POLL_EVERY,
    ChannelConfig,
    DeliveryPolicy,
    OncePer,
    Rule,
    RuleSet,
    SourceConfig,
)
from relay.config.yamlfile import Mapping, load_yaml
from relay.digests import DigestSpec
from relay.durations import parse_duration
from relay.errors import ConfigError
from relay.models import Retention
from relay.netguard import PUBLIC_ONLY, NetworkPolicy
from relay.redaction import DEFAULT, Redaction, compile_patterns
from relay.render.templates import RuleTemplate, compile_template


def load_ruleset(path: Path | str) -> RuleSet:
    kinds.source_kinds()  # LookupError, saying why, when relay.sources.registry was not imported
    path = Path(path)
    file = str(path)
    root = load_yaml(path)
    top = Reader(root, file, "top level", 1)
    errors = Errors()
    errors.check(top.only, "sources", "channels", "rules", "delivery", "redaction", "network", "retention")
    network = errors.check(_network, top.data.get("network"), file) or PUBLIC_ONLY
    source_section = errors.check(_section, top, "sources") or Mapping()
    sources = errors.each(source_section, lambda n, v: replace(_source(n, v, file), network=network))
    section = errors.check(_section, top, "channels") or Mapping()
    channels = errors.each(section, lambda n, v: _channel(n, v, file, section.line_of(n)))
    redaction = errors.check(_redaction, top.data.get("redaction"), file) or DEFAULT
    # names, not what loaded: a broken channel is reported once, not by every rule naming it
    rules = errors.check(_rules, top, list(section), set(source_section), file, errors, redaction) or ()
    for name, config in sources.items():  # one by one, so that each source's mistake is told
        errors.check(_check_source_options, {name: config}, source_section, file)
    delivery = errors.check(_delivery, top.data.get("delivery"), file) or DeliveryPolicy()
    retained = top.data.get("retention"), file, top.data.line_of("retention")
    retention = errors.check(read_retention, *retained) or Retention()
    errors.raise_found()
    _register_secrets(sources, channels)
    return RuleSet(file, sources, channels, rules, delivery, redaction, retention)


def _check_source_options(sources: dict[str, SourceConfig], section: Mapping, file: str) -> None:
    """Each kind checks its own options (registered by the kind, relay.config.kinds)."""
    for name, config in sources.items():
        kind = kinds.source_kinds()[config.kind]
        try:
            kind.check_options(config)
        except ValueError as exc:
            raise ConfigError(f"source {name!r}: {exc}", file, section.line_of(name)) from exc
        if kind.secret_is_key:
            _check_keys(Reader(section[name], file, f"source {name!r}"), "webhook_secret")


def _register_secrets(sources: dict[str, SourceConfig], channels: dict[str, ChannelConfig]) -> None:
    """Keys, secrets, credentials in a source's base_url and channel URLs (a Slack webhook
    URL is a credential, token by token) are masked in logs and answers even when written
    into the file literally instead of as ${ENV}."""
    for s in sources.values():
        for secret in (s.api_key, *s.webhook_secrets):
            secrets.register(secret)
        secrets.register_credentials(s.base_url)
    for c in channels.values():
        for secret in c.secrets:
            secrets.register(secret)
        if c.kind != "console":
            secrets.register_url(c.url)


def _section(top: Reader, key: str) -> Mapping:
    value = top.data.get(key)
    if value is None:
        return Mapping()
    if not isinstance(value, Mapping):
        raise top.fail(key, f"{key} must be a mapping of names to settings")
    return value


def _source(name: str, data: object, file: str) -> SourceConfig:
    r = Reader(data, file, f"source {name!r}")
    registered = kinds.source_kinds()
    kind = r.choice("kind", tuple(sorted(registered)), "recoup")
    default_url, kind_options = registered[kind].default_base_url, registered[kind].options
    r.only(*COMMON_SOURCE_OPTIONS, *kind_options)
    limit = r.get("limit", int, 100)
    if not 1 <= limit <= 100:
        raise r.fail("limit", "limit must be between 1 and 100 (the API's range)")
    poll_every = r.convert("poll_every", parse_duration, 30.0)
    if poll_every < MIN_POLL_EVERY:
        raise r.fail("poll_every", f"poll_every must be at least {MIN_POLL_EVERY:g}s")
    return SourceConfig(
        name=name,
        kind=kind,
        base_url=r.get("base_url", str, default_url).rstrip("/"),
        api_key=r.get("api_key", str, ""),
        poll_every=poll_every,
        limit=limit,
        webhook_secrets=r.strings("webhook_secret"),
        run_url=r.get("run_url", str, "") or None,
        enabled=r.get("enabled", bool, True),
        options={k: r.data[k] for k in kind_options if r.data.get(k) not in (None, "")},
    )


def _channel(name: str, data: object, file: str, line: int) -> ChannelConfig:
    if isinstance(data, str) or data is None:
        url = data or ""
        kind = "slack" if url.startswith("https://hooks.slack.com/") else "apprise"
        return ChannelConfig(name, kind, url=url, line=line)
    r = Reader(data, file, f"channel {name!r}")
    r.only("kind", "url", "secret", "headers", "rate_limit", "quiet_hours")
    kind = r.choice("kind", CHANNEL_KINDS, "apprise")
    headers = r.get("headers", dict, {})
    if kind == "webhook":
        _check_keys(r, "secret")
    return ChannelConfig(
        name,
        kind,
        url=r.get("url", str, ""),
        secrets=r.strings("secret"),
        headers=tuple((str(k), str(v)) for k, v in headers.items()),
        rate_limit=r.convert("rate_limit", _rate, None),
        line=line,
        quiet_hours=read_quiet_hours(r),
    )


def _check_keys(r: Reader, key: str) -> None:
    """Standard Webhooks secrets must decode as the reference library decodes them (see
    relay.signing), or every signature made or checked with them would fail at run time."""
    values = r.strings(key)
    for n, secret in enumerate(values, 1):
        try:
            signing.key(secret)
        except ValueError as exc:
            raise r.fail(key, f"{key}{f' #{n}' if len(values) > 1 else ''}: {exc}") from exc


_PERIODS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0}


def _rate(value: Any) -> tuple[int, float]:
    """'10/min' -> (10, 60.0)."""
    count, _, period = str(value).partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip() not in _PERIODS:
        raise ValueError(f"expected a rate like 10/min, 100/h or 5/s, got {value!r}")
    return int(count), _PERIODS[period.strip()]


def _known_statuses() -> set[str]:
    """Every status some source kind reports."""
    return {status for kind in kinds.source_kinds().values() for status in kind.statuses}


def _rules(
    top: Reader,
    channels: list[str],
    sources: set[str],
    file: str,
    errors: Errors,
    redaction: Redaction,
) -> tuple[Rule, ...]:
    items = top.data.get("rules") or []
    if not isinstance(items, list):
        raise top.fail("rules", "rules must be a list")
    rules: list[Rule] = []
    statuses = _known_statuses()
    for index, item in enumerate(items):
        rule = errors.check(_rule, index, item, channels, sources, statuses, file, redaction)
        if rule is not None and any(r.name == rule.name for r in rules):
            errors.found.append(ConfigError(f"rule {rule.name!r} is defined twice", file, item.line))
        elif rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(
    index: int,
    data: object,
    channels: list[str],
    sources: set[str],
    statuses: set[str],
    file: str,
    redaction: Redaction,
) -> Rule:
    r = Reader(data, file, f"rule #{index + 1}")
    name = r.get("name", str, f"rule-{index + 1}")
    r.where = f"rule {name!r}"
    r.only(
        "name",
        "match",
        "notify",
        "first_seen",
        "template",
        "digest",
        "group_window",
        "once_per",
        "stuck_after",
        "redact",
        "quiet_hours",
        "urgent",
    )
    notify = r.get("notify", list, [])
    if not notify:
        raise r.fail("notify", "notify must list at least one channel")
    for channel in notify:
        if channel not in channels:
            raise r.fail("notify", f"unknown channel {channel!r} (defined: {', '.join(channels) or 'none'})")
    match_data = r.data.get("match") or Mapping()
    try:
        matcher = build_matcher(match_data, known_sources=sources, known_statuses=statuses)
    except ValueError as exc:
        raise ConfigError(f"rule {name!r}: match: {exc}", file, r.data.line_of("match")) from exc
    template = _template(
        r.data.get("template"), file, f"rule {name!r} template", r.data.line_of("template"), per_kind=True
    )
    return Rule(
        name,
        matcher,
        tuple(str(c) for c in notify),
        r.choice("first_seen", FIRST_SEEN, "recent"),
        template,
        digest=_digest(r),
        group_window=r.convert("group_window", parse_duration, None),
        once_per=_once_per(r, file),
        stuck_after=r.convert("stuck_after", parse_duration, None),
        redaction=replace(redaction, enabled=r.get("redact", bool, redaction.enabled)),
        line=getattr(data, "line", 0),
        quiet_hours=read_quiet_hours(r),
        urgent=read_urgent(r, sources, statuses),
    )


TEMPLATE_KINDS = (*CHANNEL_KINDS, "email")  # email: an alias of apprise


def _template(data: object, file: str, where: str, line: int, *, per_kind: bool) -> RuleTemplate | None:
    if data is None:
        return None
    t = Reader(data, file, where)
    t.only("title", "body", *(TEMPLATE_KINDS if per_kind else ()))
    kinds = {}
    for kind in TEMPLATE_KINDS if per_kind else ():
        sub = _template(t.data.get(kind), file, f"{where} {kind}", t.data.line_of(kind), per_kind=False)
        if sub is not None:
            kinds["apprise" if kind == "email" else kind] = sub
    try:
        return compile_template(t.get("title", str, ""), t.get("body", str, ""), kinds, line)
    except ValueError as exc:
        raise t.fail(None, str(exc)) from exc


def _digest(r: Reader) -> DigestSpec | None:
    data = r.data.get("digest")
    if data is None:
        return None
    d = Reader(data, r.file, f"{r.where} digest")
    d.only("cron", "tz", "send_empty")
    cron = d.get("cron", str, "")
    if not croniter.is_valid(cron):
        raise d.fail("cron", f"cron must be a cron expression like '0 9 * * *', got {cron!r}")
    return DigestSpec(cron, d.time_zone(), d.get("send_empty", bool, False))


def _once_per(r: Reader, file: str) -> OncePer | None:
    data = r.data.get("once_per")
    if data is None:
        return None
    o = Reader(data, file, f"{r.where} once_per")
    o.only("key", "period")
    period = o.convert("period", parse_duration, 0.0)
    if period <= 0:
        raise o.fail("period", "period must be a duration such as 1h")
    try:
        key = compile_template(o.get("key", str, "{{ run.task }}"), "", line=o.data.line_of("key"))
    except ValueError as exc:
        raise o.fail("key", str(exc)) from exc
    return OncePer(key, period)


def _redaction(data: object, file: str) -> Redaction:
    """`redaction: {enabled: true, patterns: [regex, ...]}`: on by default."""
    if data is None:
        return DEFAULT
    r = Reader(data, file, "redaction")
    r.only("enabled", "patterns")
    return Redaction(r.get("enabled", bool, True), r.convert("patterns", _patterns, ()))


def _patterns(value: Any) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list):
        raise ValueError("expected a list of regular expressions")
    return compile_patterns(value)


def _network(data: object, file: str) -> NetworkPolicy:
    """`network: {allow: [...]}`: hosts and networks that URLs taken from run data (a presigned
    output URL) may point to besides public addresses; see relay.netguard."""
    if data is None:
        return PUBLIC_ONLY
    r = Reader(data, file, "network")
    r.only("allow")
    try:
        return NetworkPolicy.parse(r.get("allow", list, []))
    except ValueError as exc:
        raise r.fail("allow", f"allow: {exc}") from exc


def _delivery(data: object, file: str) -> DeliveryPolicy:
    if data is None:
        return DeliveryPolicy()
    r = Reader(data, file, "delivery")
    r.only("schedule", "quick_tries", "quick_wait", "timeout", "concurrency", "shutdown_grace")
    default = DeliveryPolicy()

    def schedule(value: Any) -> tuple[float, ...]:
        if not isinstance(value, list) or not value:
            raise ValueError("expected a non-empty list of durations")
        return tuple(_not_negative(v) for v in value)

    return DeliveryPolicy(
        schedule=r.convert("schedule", schedule, default.schedule),
        quick_tries=max(1, r.get("quick_tries", int, default.quick_tries)),
        quick_wait=r.convert("quick_wait", _not_negative, default.quick_wait),
        timeout=r.convert("timeout", _above_zero, default.timeout),
        concurrency=max(1, r.get("concurrency", int, default.concurrency)),
        shutdown_grace=r.convert("shutdown_grace", _not_negative, default.shutdown_grace),
    )


def _not_negative(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds < 0:
        raise ValueError(f"expected a duration of 0 or more, got {value!r}")
    return seconds


def _above_zero(value: Any) -> float:
    """The timeout: a claim's lease is counted in it, and one of 0 or less would let the
    relay claim a delivery again while it is still being sent."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"expected a duration above 0, got {value!r}")
    return seconds
