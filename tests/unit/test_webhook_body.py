"""A payload read back from the store goes out as the text it was stored as: the same bytes,
and so the same signatures, as the payload encoded for the request (what was sent before)."""

from __future__ import annotations

import json

from relay.channels.webhook import WebhookChannel
from relay.config.schema import ChannelConfig
from relay.jsonout import compact
from relay.models import JSON, Delivery, DeliveryStatus, Message, StoredJSON
from relay.signing import sign_all, verify
from relay.store.codec import dumps, payload_from_json
from tests.builders import T0
from tests.fakes.sinks import recording_sink

SECRETS = ("whsec_cGxhY2Vob2xkZXItd2ViaG9vay1zZWNyZXQ=", "whsec_c2Vjb25kIHNlY3JldA")  # placeholders
PAYLOAD: JSON = {
    "type": "run.transition",
    "text": 'é ü 中文 "quoted" \\ back\nslash \t \u2028 </script> 🚀',
    "numbers": [0, -1, 2**62, 0.1, 1e-7, 1.5e300, -0.0, 3.0],
    "nested": {"z": None, "a": [True, False, {}], "": ""},
    "order": {"b": 1, "a": 2},
}


def _delivery(payload: JSON) -> Delivery:
    return Delivery(
        "dlv_1", "t", "r", "hook", "k", Message("t", "b"), payload, DeliveryStatus.PENDING, 0, T0, T0
    )


def test_the_stored_text_is_the_encoding_a_webhook_sends() -> None:
    stored = payload_from_json(dumps(PAYLOAD))
    assert isinstance(stored, StoredJSON) and stored == PAYLOAD
    assert stored.text == compact(PAYLOAD) and json.loads(stored.text) == PAYLOAD
    assert type(stored | {"x": 1}) is dict  # a changed payload is encoded again
    assert StoredJSON(stored).text is None  # so is a copy


async def test_a_stored_payload_is_sent_and_signed_as_the_encoded_one() -> None:
    async with recording_sink() as (sink, url):
        config = ChannelConfig("hook", "webhook", url=url + "/in", secrets=SECRETS, headers=(("x-a", "1"),))
        channel = WebhookChannel(config, timeout=5.0)
        try:
            for payload in (PAYLOAD, payload_from_json(dumps(PAYLOAD)), PAYLOAD | {"x": 1}):
                assert (await channel.send(_delivery(payload))).ok
        finally:
            await channel.close()
        plain, stored, changed = await sink.wait_for(3)
    assert stored.body == plain.body == compact(PAYLOAD).encode()
    assert json.loads(plain.body) == PAYLOAD
    assert changed.json() == PAYLOAD | {"x": 1}
    for seen in (plain, stored, changed):
        stamp = int(seen.headers["webhook-timestamp"])
        assert seen.headers["webhook-signature"] == sign_all(SECRETS, "dlv_1", stamp, seen.body)
        verify(SECRETS[1], seen.headers, seen.body, now=stamp)
        assert seen.headers["content-type"] == "application/json" and seen.headers["x-a"] == "1"
