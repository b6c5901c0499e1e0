import pytest

from relay.config.matching import build_matcher
from relay.models import Phase, Transition, Via
from tests.builders import T0, snap


def transition(to: str, frm: str | None = "EXECUTING", source: str = "recoup") -> Transition:
    run = snap(to)
    return Transition(
        "t1", source, run.run_id, Phase.RUNNING if frm else None, run.phase, frm, to, T0, Via.POLL
    )


def m(**conditions: object):  # type: ignore[no-untyped-def]
    return build_matcher(conditions, known_sources={"recoup", "other"})


def test_empty_match_matches_everything() -> None:
    assert m().matches(transition("COMPLETED"), snap("COMPLETED"))


def test_task_glob_status_and_phase_groups() -> None:
    run = snap("CRASHED", task="create-content")
    t = transition("CRASHED")
    assert m(task="create-*", phase="problem").matches(t, run)
    assert m(status=["failed", "crashed"]).matches(t, run)
    assert not m(task="other").matches(t, run)
    assert not m(phase="succeeded").matches(t, run)


def test_from_phase_unknown_means_first_seen() -> None:
    assert m(from_phase="unknown").matches(transition("COMPLETED", None), snap("COMPLETED"))
    assert not m(from_phase="unknown").matches(transition("COMPLETED"), snap("COMPLETED"))


def test_tags_test_runs_and_output_fields() -> None:
    run = snap(
        "COMPLETED",
        tags=("account:42", "vip"),
        is_test=False,
        output={"template": "artist-caption-bedroom", "lipsync": True, "audio": {"songTitle": "X"}},
    )
    t = transition("COMPLETED")
    assert m(tags=["account:*", "vip"], test=False).matches(t, run)
    assert not m(tags=["missing"]).matches(t, run)
    assert not m(test=True).matches(t, run)
    assert m(output={"template": "artist-*", "lipsync": True, "audio.songTitle": "*"}).matches(t, run)
    assert not m(output={"audio.clipMood": "*"}).matches(t, run)


def test_source_condition_and_unknown_source() -> None:
    assert not m(source="other").matches(transition("COMPLETED"), snap("COMPLETED"))
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        m(source="nope")
    with pytest.raises(ValueError, match="unknown condition 'colour'"):
        m(colour="red")
