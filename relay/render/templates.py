"""Per-rule message templates: Jinja2, sandboxed, compiled when rules.yaml loads.

Templates see `run` (the run's fields, with `data:` URLs already replaced), `transition`,
`video_url`, `error` and `default` (the default message's title and body). A template that
fails for a run, whatever it raises, never loses the notification: `render` gives the
default message and the error, which the delivery records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from relay.models import Message, Snapshot, Transition
from relay.render.default import default_message
from relay.render.output import safe_output, video_url

_ENV = SandboxedEnvironment(autoescape=False, undefined=jinja2.ChainableUndefined)
ERROR_LIMIT = 500  # characters of a template's error kept on the delivery


@dataclass(frozen=True)
class RuleTemplate:
    title: jinja2.Template | None
    body: jinja2.Template | None
    # overrides for one channel kind (slack, webhook, apprise, console), over this one
    kinds: Mapping[str, RuleTemplate] = field(default_factory=dict)
    line: int = field(default=0, compare=False)  # in rules.yaml, for `relay check`

    def for_kind(self, kind: str | None) -> RuleTemplate:
        specific = self.kinds.get(kind or "")
        if specific is None:
            return self
        return RuleTemplate(specific.title or self.title, specific.body or self.body, line=specific.line)


def compile_template(
    title: str, body: str, kinds: Mapping[str, RuleTemplate] | None = None, line: int = 0
) -> RuleTemplate:
    try:
        return RuleTemplate(
            _ENV.from_string(title) if title else None,
            _ENV.from_string(body) if body else None,
            kinds or {},
            line,
        )
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template line {exc.lineno}: {exc.message}") from exc


def render_text(template: RuleTemplate, transition: Transition, run: Snapshot) -> str:
    """A one-line template (e.g. a once_per key) rendered for a run; "" when it fails."""
    if template.title is None:
        return ""
    try:
        return template.title.render(_context(transition, run, default_message(transition, run))).strip()
    except Exception:  # as in `render`: a run's data must not break the relay
        return ""


def render(
    template: RuleTemplate | None, transition: Transition, run: Snapshot, kind: str | None = None
) -> tuple[Message, str | None]:
    """The rule's message for a channel kind, and None; or the default message and the
    template's error, when rendering raised anything at all (a run's data is untrusted: a
    field of an unexpected type must not make the relay answer 500 to every retry)."""
    message = default_message(transition, run)
    if template is None:
        return message, None
    template = template.for_kind(kind)
    try:
        context = _context(transition, run, message)  # copies the run: deep data can fail too
        title = template.title.render(context).strip() if template.title else ""
        body = template.body.render(context).strip() if template.body else ""
    except Exception as exc:
        return message, f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
    # an empty rendering (e.g. a field the run lacks) falls back to the default text
    return replace(message, title=title or message.title, body=body or message.body), None


def _context(transition: Transition, run: Snapshot, message: Message) -> dict[str, Any]:
    fields = asdict(run)
    fields["output"] = safe_output(run.output)
    return {
        "run": fields,
        "transition": asdict(transition),
        "video_url": video_url(run.output),
        "error": asdict(run.error) if run.error else None,
        "default": {"title": message.title, "body": message.body},
    }
