from datetime import timedelta

import pytest

from relay.channels.base import Response
from relay.config import DeliveryPolicy
from relay.delivery.retry import Verdict, outcome, verdict
from relay.models import DeliveryStatus
from tests.builders import T0


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (Response(ok=True, http_status=200), Verdict.SENT),
        (Response(ok=False, error="ConnectError"), Verdict.RETRY),
        (Response(ok=False, http_status=500), Verdict.RETRY),
        (Response(ok=False, http_status=503), Verdict.RETRY),
        (Response(ok=False, http_status=408), Verdict.RETRY),
        (Response(ok=False, http_status=429), Verdict.RETRY),
        (Response(ok=False, http_status=400), Verdict.GIVE_UP),
        (Response(ok=False, http_status=404), Verdict.GIVE_UP),
        (Response(ok=False, error="apprise_failed"), Verdict.RETRY),
    ],
)
def test_verdicts(response: Response, expected: Verdict) -> None:
    assert verdict(response) == expected


def test_schedule_then_dead_letter() -> None:
    policy = DeliveryPolicy(schedule=(5, 60))
    failed = Response(ok=False, http_status=502, excerpt="bad gateway")
    first = outcome(failed, 0, policy, T0)
    assert first.status == DeliveryStatus.PENDING and first.next_attempt_at == T0 + timedelta(seconds=5)
    assert outcome(failed, 1, policy, T0).next_attempt_at == T0 + timedelta(seconds=60)
    last = outcome(failed, 2, policy, T0)
    assert last.status == DeliveryStatus.DEAD and last.error == "http_502: bad gateway"


def test_retry_after_stretches_the_schedule() -> None:
    later = outcome(
        Response(ok=False, http_status=429, retry_after=120), 0, DeliveryPolicy(schedule=(5,)), T0
    )
    assert later.next_attempt_at == T0 + timedelta(seconds=120)


def test_permanent_failure_is_dead_at_once() -> None:
    assert outcome(Response(ok=False, http_status=410), 0, DeliveryPolicy(), T0).status == DeliveryStatus.DEAD
