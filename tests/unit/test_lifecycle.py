import pytest

from relay.lifecycle import TRIGGER_STATUSES, trigger_phase
from relay.models import Phase

TERMINAL = {
    "COMPLETED",
    "CANCELED",
    "FAILED",
    "CRASHED",
    "INTERRUPTED",
    "SYSTEM_FAILURE",
    "EXPIRED",
    "TIMED_OUT",
}
SEEDED = {
    "PENDING_VERSION",
    "DELAYED",
    "WAITING_FOR_DEPLOY",
    "QUEUED",
    "EXECUTING",
    "REATTEMPTING",
    "FROZEN",
    "COMPLETED",
    "CANCELED",
    "FAILED",
    "CRASHED",
    "INTERRUPTED",
    "SYSTEM_FAILURE",
    "EXPIRED",
    "TIMED_OUT",
    "DEQUEUED",
    "WAITING",
}


@pytest.mark.parametrize("status", sorted(SEEDED))
def test_every_documented_status_has_a_phase(status: str) -> None:
    phase = trigger_phase(status)
    assert phase != Phase.UNKNOWN
    assert phase.terminal == (status in TERMINAL)


def test_mapping_covers_exactly_the_union_of_both_vocabularies() -> None:
    assert set(TRIGGER_STATUSES) == SEEDED


def test_unknown_status_is_kept_as_unknown_not_an_error() -> None:
    assert trigger_phase("SOMETHING_NEW") == Phase.UNKNOWN
    assert not Phase.UNKNOWN.terminal


def test_problem_phases() -> None:
    assert trigger_phase("CRASHED").problem and trigger_phase("SYSTEM_FAILURE").problem
    assert not trigger_phase("COMPLETED").problem and not trigger_phase("CANCELED").problem


def test_every_source_kind_in_the_config_has_an_implementation() -> None:
    from relay.config.kinds import source_kinds
    from relay.sources.registry import KINDS

    assert set(source_kinds()) == set(KINDS)
