"""Any apprise URL (e-mail, Discord, Teams, ntfy, ...): the only module that imports apprise.

apprise is blocking and its plugins sleep to throttle themselves: every send runs on a
worker thread, never on the event loop, with one channel per call so each gets its own
result. Its throttle is switched off (our own retry schedule and limits apply) and its own
retries are left off (ours are durable).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apprise

from relay.channels.base import Response, excerpt
from relay.channels.email_html import html_body
from relay.messages import rows_text
from relay.models import Delivery, Message
from relay.rules.config import ChannelConfig

_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="apprise")


class _PerThreadCapture(logging.Handler):
    """apprise says why a send failed only through its logger: keep each thread's lines."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    def collect(self) -> list[str]:
        self.local.lines = []
        return self.local.lines  # type: ignore[no-any-return]


_capture = _PerThreadCapture()
logging.getLogger("apprise").addHandler(_capture)


def build(url: str) -> Any:
    """An apprise object for one URL, or ValueError when apprise does not understand it."""
    # sent on the calling thread (ours, off the event loop): with async_mode or a
    # service_timeout apprise sends from its own pool, where `_capture` (per thread) cannot
    # see why a send failed; the delivery worker bounds the time a send may take
    asset = apprise.AppriseAsset(async_mode=False, service_timeout=0)
    instance = apprise.Apprise(asset=asset)
    if not instance.add(url):
        raise ValueError("apprise does not recognise this URL (see apprise's list of services)")
    for plugin in instance:
        plugin.request_rate_per_sec = 0
    return instance


def text_body(m: Message) -> str:
    body = m.body + "".join(f"\n{k}: {v}" for k, v in m.fields)
    body += f"\n{m.link}" if m.link else ""
    return body + (f"\n\n{rows_text(m.rows)}" if m.rows else "")


def prefers_html(instance: Any) -> bool:
    """E-mail plugins send HTML (with a text alternative); chat plugins get plain text."""
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
            body, body_format = html_body(m), apprise.NotifyFormat.HTML
        else:
            body, body_format = text_body(m), apprise.NotifyFormat.TEXT
        lines = _capture.collect()
        ok = self._apprise.notify(title=m.title, body=body, body_format=body_format)
        if ok:
            return Response(ok=True)
        detail = excerpt(" ".join(lines)) if lines else None
        return Response(ok=False, error="apprise_failed", excerpt=detail)

    async def close(self) -> None:
        return None
