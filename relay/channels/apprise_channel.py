"""Any apprise URL (e-mail, Discord, Teams, ntfy, ...): the only module that imports apprise.

apprise is blocking and its plugins sleep to throttle themselves: every send runs on a
worker thread, never on the event loop, with one channel per call so each gets its own
result. Its throttle is switched off (our own retry schedule and limits apply) and its own
retries are left off (ours are durable).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apprise

from relay.channels.base import Response, excerpt
from relay.config import ChannelConfig
from relay.models import Delivery
from relay.render.email import html_body
from relay.render.escape import one_line
from relay.render.text import chat_text

_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="apprise")


# Why a send failed is in apprise's log lines: the warning says that it failed, the cause (an
# SMTP server's refusal, an exception, a response body) comes at DEBUG. apprise collects each
# call's lines itself, across the worker threads it sends from (AppriseResult.logs), but only
# lines its logger lets through: so its logger passes DEBUG, and only what the relay logs at
# its own level goes on to the relay's log.
_CAUSES = ("Exception:", "Response Details:")  # apprise's DEBUG lines that say why


class _ToRelayLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if record.levelno >= root.getEffectiveLevel():
            root.handle(record)


_apprise_log = logging.getLogger("apprise")
_apprise_log.setLevel(logging.DEBUG)
_apprise_log.propagate = False
_apprise_log.addHandler(_ToRelayLog())


def failure_detail(result: Any) -> str | None:
    """The warnings and causes apprise logged during one notify call, cut to an excerpt
    (which masks every registered secret: the channel's URL was registered token by token
    when rules.yaml loaded, so a cause that quotes a request URL shows none of it)."""
    lines = [
        e.message
        for e in result.logs()
        if e.level in ("WARNING", "ERROR", "CRITICAL") or any(c in e.message for c in _CAUSES)
    ]
    return excerpt(" ".join(lines)) if lines else None


def build(url: str) -> Any:
    """An apprise object for one URL, or ValueError when apprise does not understand it."""
    instance = apprise.Apprise()
    if not instance.add(url):
        raise ValueError("apprise does not recognise this URL (see apprise's list of services)")
    for plugin in instance:
        plugin.request_rate_per_sec = 0
    return instance


def prefers_html(instance: Any) -> bool:
    """E-mail plugins send HTML with a text alternative that apprise derives from it (which is
    why every link in html_body is spelled out as its own text); chat plugins get plain text."""
    # a plugin's notify_format is its format, or a tuple of those it takes, preferred first
    formats = [getattr(plugin, "notify_format", None) for plugin in instance]
    return all((f[0] if isinstance(f, tuple) else f) == apprise.NotifyFormat.HTML for f in formats)


class AppriseChannel:
    def __init__(self, config: ChannelConfig) -> None:
        self.name = config.name
        self._apprise = build(config.url)
        self._html = prefers_html(self._apprise)

    async def send(self, delivery: Delivery) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor, self._send, delivery)

    def _send(self, delivery: Delivery) -> Response:
        m = delivery.message
        if self._html:
            # one line, no controls, cut: the e-mail subject (apprise only collapses whitespace)
            title, body, body_format = one_line(m.title), html_body(m), apprise.NotifyFormat.HTML
        else:  # a chat service: run text must not ping anyone there
            (title, body), body_format = chat_text(m), apprise.NotifyFormat.TEXT
        result = self._apprise.notify(
            title=title, body=body, body_format=body_format, log_level=logging.DEBUG
        )
        if result:
            return Response(ok=True)
        return Response(ok=False, error="apprise_failed", excerpt=failure_detail(result))

    async def close(self) -> None:
        return None
