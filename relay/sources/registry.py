"""Every source kind the relay knows, by the name used in rules.yaml (`kind:`)."""

from __future__ import annotations

from relay.sources import recoup, taskrunner, triggerdev
from relay.sources.base import SourceKind

KINDS: dict[str, SourceKind] = {kind.name: kind for kind in (recoup.KIND, taskrunner.KIND, triggerdev.KIND)}


def kind_of(name: str) -> SourceKind:
    return KINDS[name]
