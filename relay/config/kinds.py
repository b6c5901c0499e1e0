"""What rules.yaml needs to know about each source kind, registered by the kind itself.

Config sits below the stages and imports none of them: relay.sources.registry calls
`register_source_kind` for every kind it lists when it is imported, and whoever loads a
ruleset (the service, the CLI, the tests) imports it first. `relay.config.load` refuses to
load with no kind registered rather than report every source as unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from relay.config.schema import SourceConfig


def no_options(config: SourceConfig) -> None:
    return None


@dataclass(frozen=True)
class SourceKindSettings:
    name: str  # the `kind:` of rules.yaml
    default_base_url: str
    options: tuple[str, ...]  # the options only this kind accepts, beside COMMON_SOURCE_OPTIONS
    # validates those options when rules.yaml loads: raises ValueError
    check_options: Callable[[SourceConfig], None] = no_options
    # the status names its snapshots carry: a rule's `status:` must be one of some kind's
    statuses: frozenset[str] = frozenset()
    # True: webhook_secret is a Standard Webhooks secret, checked when rules.yaml loads
    secret_is_key: bool = True


# by name: code, not state: filled once at import by relay.sources.registry, never changed after
_KINDS: dict[str, SourceKindSettings] = {}


def register_source_kind(kind: SourceKindSettings) -> None:
    if _KINDS.get(kind.name, kind) != kind:
        raise ValueError(f"source kind {kind.name!r} is registered twice, differently")
    _KINDS[kind.name] = kind


def source_kinds() -> Mapping[str, SourceKindSettings]:
    """Every registered kind; raises LookupError when none is, as the source kinds were not
    imported (import relay.sources.registry before loading a ruleset)."""
    if not _KINDS:
        raise LookupError("no source kind is registered: import relay.sources.registry before loading rules")
    return _KINDS
