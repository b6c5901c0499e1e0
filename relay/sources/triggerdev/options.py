"""The options of a Trigger.dev source (`project_ref`, `sweep_window`, `sweep_every`),
checked when rules.yaml loads, and the dashboard links they give."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relay.config import MIN_POLL_EVERY, SourceConfig
from relay.durations import parse_duration
from relay.sources.parsing import short

CLOUD_RUN_URL = "https://cloud.trigger.dev/projects/v3/{project_ref}/runs/{{run_id}}"
DEFAULT_SWEEP_WINDOW = 24 * 3600.0  # seconds of createdAt a first sweep covers
DEFAULT_SWEEP_EVERY = 300.0
_PROJECT_REF = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class TriggerOptions:
    """The kind-specific options of a source (registered in relay.sources.registry), validated."""

    project_ref: str | None = None  # dashboard links: cloud.trigger.dev/projects/v3/{ref}/runs/{id}
    sweep_window: float = DEFAULT_SWEEP_WINDOW
    sweep_every: float = DEFAULT_SWEEP_EVERY

    @classmethod
    def of(cls, config: SourceConfig) -> TriggerOptions:
        """Raises ValueError naming the option (the caller names the source)."""
        options = config.options
        ref = options.get("project_ref")
        if ref is not None and (not isinstance(ref, str) or not _PROJECT_REF.match(ref)):
            raise ValueError(f"project_ref must look like proj_abc123, got {short(ref)}")
        window = _duration(options, "sweep_window", DEFAULT_SWEEP_WINDOW)
        every = _duration(options, "sweep_every", DEFAULT_SWEEP_EVERY)
        if window <= every:
            raise ValueError(
                f"sweep_window ({window:g}s) must be longer than sweep_every ({every:g}s),"
                " and longer than the longest run"
            )
        return cls(ref, window, every)


def _duration(options: Mapping[str, Any], key: str, default: float) -> float:
    if options.get(key) is None:
        return default
    try:
        seconds = parse_duration(options[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    if not math.isfinite(seconds) or seconds < MIN_POLL_EVERY:
        raise ValueError(f"{key} must be at least {MIN_POLL_EVERY:g}s, got {seconds:g}s")
    return seconds


def check_options(config: SourceConfig) -> None:
    """SourceKind.check_options: rules.yaml is rejected (file and line) for invalid options."""
    TriggerOptions.of(config)


def run_url_template(config: SourceConfig) -> str | None:
    """`run_url` when set, else the Trigger.dev Cloud dashboard of the `project_ref` option."""
    if config.run_url:
        return config.run_url
    return run_url_template_for(config.options)


def run_url_template_for(project: Mapping[str, Any]) -> str | None:
    """The Cloud dashboard template of a project ref (`project_ref`, or an alert's project.ref)."""
    ref = project.get("project_ref", project.get("ref"))
    return CLOUD_RUN_URL.format(project_ref=ref) if isinstance(ref, str) and _PROJECT_REF.match(ref) else None
