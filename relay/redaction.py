"""Secrets in run data are masked before a run reaches a message, a payload or a log. Pure.

A run's error, output, metadata, task, tags and link are written by the platform or by the
task's own code: an error that quotes `Authorization: Bearer ...` or a database URL with its
password would otherwise go straight to Slack. What looks like a credential becomes `***`,
keeping the part that says what it was (`sk-***`, `Bearer ***`, `postgres://***@db`):

- API keys and tokens by their shape: OpenAI `sk-`, Stripe `sk_live_`, AWS `AKIA`/`ASIA`,
  GitHub `ghp_` and friends, Slack `xox?-`, Google `AIza`, npm `npm_`, Trigger.dev `tr_*`,
  Standard Webhooks `whsec_`, JWTs, PEM private keys;
- `Bearer ...`, `Authorization: Basic ...`, `password=...`, `"api_key": "..."` and the like;
- the user info of URLs (`scheme://user:pass@host`) and Slack / Discord webhook URLs;
- the whole value of a metadata or output field whose name says it is a secret
  (`password`, `apiKey`, `access_token`, ...);
- whatever matches the extra patterns of rules.yaml (`redaction: {patterns: [...]}`).

Left alone: the run's video link (a signed URL made to be shared; it is the message) and
inline `data:` values (never shown: see `messages.safe_output`). Source, run id and status
are identifiers the relay keys on and are never changed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Any

from relay.models import RunError, Snapshot
from relay.render.output import is_data_url, video_url

MASK = "***"
_KEYS = (
    r"(?:password|passwd|pwd|secret|client_secret|api[_-]?key|access[_-]?token|refresh[_-]?token"
    r"|auth[_-]?token|token|aws_secret_access_key)"
)
_KEY_LITERALS = ("pass", "pwd", "secret", "key", "token")  # one of them is in each of _KEYS
# (what must occur in the lowercased text, what is kept, what is masked). Each pattern runs
# only on text holding one of its literals: a substring test costs a tiny fraction of a
# regular expression's scan, and most text holds none. (User info ends at an `@`: a URL
# without one, the most common kind of text here that holds `://`, has none to mask.)
_BUILTIN = (
    (("@",), r"\b[a-zA-Z][a-zA-Z0-9+.-]*://", r"[^/\s@?#'\"<>]+(?=@)"),
    (
        ("hooks.slack.com", "discord"),
        r"\b(?:hooks\.slack\.com/services/|discord(?:app)?\.com/api/webhooks/)",
        r"[\w/-]+",
    ),
    (("-----begin",), r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r"[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    (("bearer",), r"\b[Bb]earer\s+", r"(?=[a-z._~+/=-]*[A-Z0-9])[A-Za-z0-9._~+/=-]{12,}"),
    (("basic",), r"\b(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:basic)\s+", r"[A-Za-z0-9+/]{8,}=*"),
    (("eyj",), r"\beyJ", r"[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    (("sk-",), r"\bsk-", r"(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{16,}"),
    (("k_live_", "k_test_"), r"\b[sr]k_(?:live|test)_", r"[A-Za-z0-9]{10,}"),
    (("akia", "asia"), r"\b(?:AKIA|ASIA)", r"[A-Z0-9]{16}\b"),
    (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"\b(?:gh[pousr]_|github_pat_)",
        r"[A-Za-z0-9_]{20,}",
    ),
    (("xox",), r"\bxox[abposr]-", r"[A-Za-z0-9-]{10,}"),
    (("aiza",), r"\bAIza", r"[0-9A-Za-z_-]{30,}"),
    (("npm_",), r"\bnpm_", r"[A-Za-z0-9]{30,}"),
    (("tr_",), r"\btr_(?:dev_|prod_|stg_|preview_|pat_)?", r"(?=[A-Za-z]*\d)[A-Za-z0-9]{12,}"),
    (("whsec_",), r"\bwhsec_", r"[A-Za-z0-9+/=]{8,}"),
    (_KEY_LITERALS, rf"\b(?i:{_KEYS})=", r"[^\s&\"',;]{3,}"),
    (_KEY_LITERALS, rf"[\"'](?i:{_KEYS})[\"']\s*:\s*[\"']", r"[^\"']{3,}"),
)
_PATTERNS = tuple((literals, re.compile(f"({keep}){masked}")) for literals, keep, masked in _BUILTIN)
_LITERALS = tuple(sorted({literal for literals, _, _ in _BUILTIN for literal in literals}))
_NOT_LETTER = re.compile("[^a-z]")
_SECRET_NAMES = ("password", "passwd", "secret", "token", "apikey", "accesskey", "authorization",
                 "credential", "credentials", "privatekey", "cookie")  # fmt: skip


@dataclass(frozen=True)
class Redaction:
    """The policy one rule applies: on or off, and the extra patterns of rules.yaml."""

    enabled: bool = True
    patterns: tuple[re.Pattern[str], ...] = ()  # each whole match becomes ***

    def text(self, value: str) -> str:
        if not self.enabled:
            return value
        value = _builtin(value)
        for pattern in self.patterns:
            value = pattern.sub(MASK, value)
        return value


DEFAULT = Redaction()


def compile_patterns(sources: list[Any]) -> tuple[re.Pattern[str], ...]:
    """Raises ValueError naming the first pattern that is not a regular expression."""
    compiled = []
    for source in sources:
        try:
            compiled.append(re.compile(str(source)))
        except re.error as exc:
            raise ValueError(f"invalid regular expression {source!r}: {exc}") from exc
    return tuple(compiled)


def redact_run(run: Snapshot, policy: Redaction) -> tuple[Snapshot, bool]:
    """The run with what looks like a secret masked, and whether anything was."""
    if not policy.enabled:
        return run, False
    scrub = _Scrub(policy, video_url(run.output))
    task = scrub.text(run.task)
    tags = tuple(scrub.text(t) for t in run.tags)
    url = scrub.text(run.url) if run.url else run.url
    metadata, output = scrub.value(run.metadata), scrub.value(run.output)
    error = scrub.error(run.error)
    if not scrub.changed:  # the common case: no new Snapshot for a clean run
        return run, False
    redacted = replace(run, task=task, tags=tags, url=url, metadata=metadata, output=output, error=error)
    return redacted, True


def _builtin(value: str) -> str:
    lowered = value.lower()
    for literal in _LITERALS:  # a plain loop: the common case is text with none of them
        if literal in lowered:
            break
    else:
        return value
    for literals, pattern in _PATTERNS:
        for literal in literals:  # loops, not any(): a generator per pattern costs more
            if literal in lowered:
                value = pattern.sub(_mask, value)
                break
    return value


def _mask(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}"


@functools.lru_cache(maxsize=4096)  # runs of one task repeat the same few field names
def _secret_name(key: str) -> bool:
    squashed = _NOT_LETTER.sub("", key.lower())
    return squashed.endswith(_SECRET_NAMES)


class _Scrub:
    """Each walk gives back the very object it was given when nothing in it was masked, so a
    clean run costs no copies."""

    def __init__(self, policy: Redaction, keep: str | None) -> None:
        self.policy, self.keep, self.changed = policy, keep, False

    def text(self, value: str) -> str:
        if value == self.keep or is_data_url(value):
            return value
        masked = self.policy.text(value)
        if masked == value:
            return value
        self.changed = True
        return masked

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            if not (value and key and _secret_name(key)):
                return self.text(value)
            self.changed |= value != MASK
            return MASK
        if isinstance(value, dict):
            copy = None
            for k, v in value.items():
                if (scrubbed := self.value(v, str(k))) is not v:
                    copy = dict(value) if copy is None else copy  # same keys: same order
                    copy[k] = scrubbed
            return value if copy is None else copy
        if isinstance(value, list):
            items = None
            for i, v in enumerate(value):
                if (scrubbed := self.value(v)) is not v:
                    items = list(value) if items is None else items
                    items[i] = scrubbed
            return value if items is None else items
        return value

    def error(self, error: RunError | None) -> RunError | None:
        if error is None:
            return None
        message = self.text(error.message)
        name = self.text(error.name) if error.name else error.name
        trace = self.text(error.stack_trace) if error.stack_trace else error.stack_trace
        if message is error.message and name is error.name and trace is error.stack_trace:
            return error
        return RunError(message, name, trace)
