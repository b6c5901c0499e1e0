"""A NUL character in a console address or form, on each backend: a 400 or 404 page that says
so and changes nothing, never a 500 (PostgreSQL's driver raised on it)."""

from __future__ import annotations

from relay.models import DeliveryStatus
from tests.console.world import World, sign_in

PAGES = [
    ("/console/runs?task=%00", 400),
    ("/console/runs?source=recoup%00", 400),
    ("/console/runs/recoup/run%00", 404),
    ("/console/runs/%00/run_1", 404),
    ("/console/deliveries?channel=%00", 400),
    ("/console/deliveries/%00", 404),
    ("/console/deliveries/replay-dead?channel=hook%00", 400),
]


async def test_a_nul_in_an_address_or_a_form_is_refused_and_changes_nothing(world: World) -> None:
    dead = await world.failed_run("run_1")
    client = world.relay.client
    csrf = await sign_in(client, world.url)
    for path, status in PAGES:
        answer = await client.get(world.url + path)
        assert answer.status_code == status and "NUL character" in answer.text, path

    forms = [
        ("/console/silences", {"task": "nightly\x00", "duration": "1h"}),
        ("/console/silences", {"task": "x", "duration": "1h", "comment": "a\x00b"}),
        ("/console/silences", {"task": "nightly\x00", "duration": "1h", "preview": "1"}),
        ("/console/deliveries/replay-dead", {"channel": "hook\x00"}),
        ("/console/deliveries/%00/replay", {}),
        ("/console/silences/%00/expire", {}),
    ]
    for path, fields in forms:
        answer = await client.post(world.url + path, data=fields | {"csrf": csrf})
        assert answer.status_code in (400, 404) and "NUL character" in answer.text, path

    store, now = world.relay.relay.store, world.relay.relay.clock.now()
    assert await store.silences(now) == []
    assert (await store.delivery(dead.id)).status == DeliveryStatus.DEAD  # type: ignore[union-attr]
