"""Every source kind the relay knows, by the name used in rules.yaml (`kind:`).

Importing this module registers each kind's options with relay.config.kinds, which the
loader of rules.yaml reads: import it before loading a ruleset.
"""

from __future__ import annotations

from relay.config.kinds import SourceKindSettings, register_source_kind
from relay.sources import recoup, taskrunner, triggerdev
from relay.sources.base import SourceKind

KINDS: dict[str, SourceKind] = {kind.name: kind for kind in (recoup.KIND, taskrunner.KIND, triggerdev.KIND)}
# per kind: the default base URL and the options only that kind accepts
_SETTINGS = {
    "recoup": ("https://api.recoupable.com/api", ("account_id", "schedules", "schedule_grace")),
    "taskrunner": ("http://127.0.0.1:9477", ("tasks", "socket", "stream", "external_url", "log_lines")),
    "triggerdev": ("https://api.trigger.dev", ("project_ref", "sweep_window", "sweep_every")),
}


def kind_of(name: str) -> SourceKind:
    return KINDS[name]


def _register(kind: SourceKind) -> None:
    base_url, options = _SETTINGS[kind.name]
    settings = SourceKindSettings(
        kind.name, base_url, options, kind.check_options, kind.statuses, kind.secret_is_key
    )
    register_source_kind(settings)


for kind in KINDS.values():
    _register(kind)
