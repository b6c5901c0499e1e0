"""The relay's ASGI app for `uvicorn --factory` (`relay serve` runs one process and always
delivers).

Settings come from the environment as `relay serve` reads them (RELAY_CONFIG,
RELAY_DATABASE_URL, RELAY_LOG_LEVEL); BENCH_DELIVER=0 turns delivery off in this process
(Settings.workers), to measure ingest alone.
"""

from __future__ import annotations

import os
from dataclasses import replace

from starlette.applications import Starlette

from bench import nodelay
from relay.app import create_app
from relay.observability import setup_logging
from relay.settings import Settings


def app() -> Starlette:
    nodelay.patch()  # uvicorn --workers loses TCP_NODELAY (bench/nodelay.py)
    settings = Settings.from_env()
    if os.environ.get("BENCH_DELIVER") == "0":
        settings = replace(settings, workers=False)
    setup_logging(settings.log_level)
    return create_app(settings)
