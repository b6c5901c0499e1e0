"""Per-rule message templates: Jinja2, sandboxed, compiled when rules.yaml loads.

Templates see `run` (the run's fields, with `data:` URLs already replaced), `transition`,
`video_url`, `error` and `default` (the default message's title and body).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from relay.messages import default_message, safe_output, video_url
from relay.models import Message, Snapshot, Transition

_ENV = SandboxedEnvironment(autoescape=False, undefined=jinja2.ChainableUndefined)


@dataclass(frozen=True)
class RuleTemplate:
    title: jinja2.Template | None
    body: jinja2.Template | None
    # overrides for one channel kind (slack, webhook, apprise, console), over this one
    kinds: Mapping[str, RuleTemplate] = field(default_factory=dict)

    def for_kind(self, kind: str | None) -> RuleTemplate:
        specific = self.kinds.get(kind or "")
        if specific is None:
            return self
        return RuleTemplate(specific.title or self.title, specific.body or self.body)


def compile_template(title: str, body: str, kinds: Mapping[str, RuleTemplate] | None = None) -> RuleTemplate:
    try:
        return RuleTemplate(
            _ENV.from_string(title) if title else None, _ENV.from_string(body) if body else None, kinds or {}
        )
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template line {exc.lineno}: {exc.message}") from exc


def render_text(template: RuleTemplate, transition: Transition, run: Snapshot) -> str:
    """A one-line template (e.g. a once_per key) rendered for a run; "" when it fails."""
    try:
        return (
            template.title.render(_context(transition, run, default_message(transition, run))).strip()
            if (template.title)
            else ""
        )
    except jinja2.TemplateError:
        return ""


def render(
    template: RuleTemplate | None, transition: Transition, run: Snapshot, kind: str | None = None
) -> Message:
    message = default_message(transition, run)
    if template is None:
        return message
    template = template.for_kind(kind)
    context = _context(transition, run, message)
    try:
        title = template.title.render(context).strip() if template.title else ""
        body = template.body.render(context).strip() if template.body else ""
    except jinja2.TemplateError as exc:
        # a broken template must not lose the notification: send the default, say why
        return replace(message, body=f"{message.body}\n(template error: {exc})")
    # an empty rendering (e.g. a field the run lacks) falls back to the default text
    return replace(message, title=title or message.title, body=body or message.body)


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
