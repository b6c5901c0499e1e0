"""The options of a RunWisp source (`tasks`, `socket`, `stream`, `external_url`,
`log_lines`), checked when rules.yaml loads (`TaskRunnerOptions.of`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from relay.config import SourceConfig
from relay.sources.parsing import short

DEFAULT_LOG_LINES = 20
MAX_LOG_LINES = 1000
TASK_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,100}$")


@dataclass(frozen=True)
class TaskRunnerOptions:
    tasks: tuple[str, ...] = ()  # empty: every task, through GET /api/runs
    socket: str | None = None
    stream: bool = False
    external_url: str | None = None
    log_lines: int = DEFAULT_LOG_LINES

    @classmethod
    def of(cls, config: SourceConfig) -> TaskRunnerOptions:
        """Raises ValueError naming the source and the option."""
        o, where = config.options, f"source {config.name!r}: option"
        tasks = o.get("tasks", ())
        if isinstance(tasks, str):
            tasks = [tasks]
        if not isinstance(tasks, list | tuple) or not all(
            isinstance(t, str) and TASK_NAME.match(t) for t in tasks
        ):
            raise ValueError(
                f"{where} tasks must be a list of task names (letters, digits, '.', '_', '-';"
                f" at most 100 characters), got {short(tasks)}"
            )
        socket = o.get("socket")
        if socket is not None and (not isinstance(socket, str) or not socket.strip()):
            raise ValueError(f"{where} socket must be the path of RunWisp's Unix socket, got {short(socket)}")
        stream = o.get("stream", False)
        if not isinstance(stream, bool):
            raise ValueError(f"{where} stream must be true or false, got {short(stream)}")
        external_url = o.get("external_url")
        if external_url is not None and not (
            isinstance(external_url, str) and urlsplit(external_url).scheme in ("http", "https")
        ):
            raise ValueError(f"{where} external_url must be an http(s) URL, got {short(external_url)}")
        log_lines = o.get("log_lines", DEFAULT_LOG_LINES)
        if (
            isinstance(log_lines, bool)
            or not isinstance(log_lines, int)
            or not 0 <= log_lines <= MAX_LOG_LINES
        ):
            raise ValueError(
                f"{where} log_lines must be a whole number from 0 to {MAX_LOG_LINES}, got {short(log_lines)}"
            )
        return cls(
            tasks=tuple(dict.fromkeys(tasks)),
            socket=socket,
            stream=stream,
            external_url=external_url.rstrip("/") if external_url else None,
            log_lines=log_lines,
        )


def check_options(config: SourceConfig) -> None:
    TaskRunnerOptions.of(config)
