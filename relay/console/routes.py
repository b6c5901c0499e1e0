"""Every console path (and `/`, which leads to it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relay.console import actions, backtest, pages
from relay.console.guard import key_of, off
from relay.console.render import ASSETS


async def asset(request: Request) -> Response:
    """The stylesheet, the script that shows times in local time, the icon."""
    if key_of(request.app.state.relay) is None:
        return off()
    found = ASSETS.get(request.path_params["name"])
    if found is None:
        return Response("no such file", status_code=404, media_type="text/plain")
    body, media_type = found
    headers = {"cache-control": "max-age=3600", "x-content-type-options": "nosniff"}
    return Response(body, media_type=media_type, headers=headers)


async def root(request: Request) -> Response:
    if key_of(request.app.state.relay) is None:
        return off()
    return await pages.root(request)


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/console", pages.overview, methods=["GET"]),
    Route("/console/signin", actions.signin, methods=["GET", "POST"]),
    Route("/console/signout", actions.signout, methods=["POST"]),
    Route("/console/runs", pages.runs, methods=["GET"]),
    Route("/console/runs/{source}/{run_id:path}", pages.run, methods=["GET"]),
    Route("/console/deliveries", pages.deliveries, methods=["GET"]),
    Route("/console/deliveries/replay-dead", pages.confirm_bulk, methods=["GET"]),
    Route("/console/deliveries/replay-dead", actions.bulk_replay, methods=["POST"]),
    Route("/console/deliveries/{id}", pages.delivery, methods=["GET"]),
    Route("/console/deliveries/{id}/replay", actions.replay, methods=["POST"]),
    Route("/console/silences", pages.silences, methods=["GET"]),
    Route("/console/rules", backtest.page, methods=["GET"]),
    Route("/console/rules/backtest", backtest.run, methods=["POST"]),
    Route("/console/silences", actions.add_silence, methods=["POST"]),
    Route("/console/silences/{id}/expire", actions.expire_silence, methods=["POST"]),
    Route("/console/static/{name}", asset, methods=["GET"]),
]
