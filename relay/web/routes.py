"""Every HTTP endpoint of the relay, in one table (each documented in web/openapi.py)."""

from __future__ import annotations

from starlette.routing import Route

from relay.web import admin, admin_backtest, health, openapi, suppressed, webhooks

ROUTES = [
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/metrics", health.metrics, methods=["GET"]),
    Route("/openapi.json", openapi.document, methods=["GET"]),
    Route("/hooks/{source}", webhooks.receive, methods=["POST"]),
    Route("/admin/sources", admin.sources, methods=["GET"]),
    Route("/admin/runs", admin.runs, methods=["GET"]),
    Route("/admin/transitions", admin.transitions, methods=["GET"]),
    Route("/admin/deliveries", admin.deliveries, methods=["GET"]),
    Route("/admin/deliveries/{id}", admin.delivery, methods=["GET"]),
    Route("/admin/deliveries/{id}/replay", admin.replay, methods=["POST"]),
    Route("/admin/preview", admin.preview, methods=["POST"]),
    Route("/admin/backtest", admin_backtest.backtest, methods=["POST"]),
    Route("/admin/reload", admin.reload, methods=["POST"]),
    Route("/admin/silences", admin.silences, methods=["GET", "POST"]),
    Route("/admin/silences/{id}", admin.expire_silence, methods=["DELETE"]),
    Route("/admin/suppressed", suppressed.suppressed, methods=["GET"]),
]
