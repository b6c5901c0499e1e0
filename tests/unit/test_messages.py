import base64

from relay.models import Link, Phase, Transition, Via
from relay.render.default import default_message
from relay.render.output import video_url
from relay.render.payload import build_payload
from relay.render.templates import compile_template, render
from tests.builders import T0, snap

OUTPUT = {
    "videoSourceUrl": "https://v3.fal.media/files/abc/final.mp4",
    "imageUrl": "https://x/i.png",
    "captionText": "new single out now",
    "template": "artist-caption-bedroom",
    "audio": {"songTitle": "Midnight"},
}


def t_for(status: str) -> Transition:
    run = snap(status)
    return Transition("t", "recoup", "run_1", Phase.RUNNING, run.phase, "EXECUTING", status, T0, Via.POLL)


def test_completed_shows_video_caption_template_song() -> None:
    m = default_message(t_for("COMPLETED"), snap("COMPLETED", output=OUTPUT))
    video = Link("Video", "https://v3.fal.media/files/abc/final.mp4")
    image = Link("Image", "https://x/i.png")
    assert m.links == (video, image)
    assert "new single out now" in m.body and "https://" not in m.body  # links are links, never text
    assert ("Template", "artist-caption-bedroom") in m.fields and ("Song", "Midnight") in m.fields
    assert m.severity == "success" and "completed" in m.title


def test_inline_data_video_is_never_pasted() -> None:
    data = "data:video/mp4;base64," + base64.b64encode(b"\0" * 3000).decode()
    run = snap("COMPLETED", output={**OUTPUT, "videoSourceUrl": data, "renderedVideoBytes": 3000})
    m = default_message(t_for("COMPLETED"), run)
    assert "data:" not in m.body and "inline video of 3000 bytes" in m.body
    assert video_url(run.output) is None
    payload = build_payload(t_for("COMPLETED"), run, m, rule="r", key="k")
    assert "data:video" not in str(payload) and payload["run"]["inline_video_bytes"] == 3000


def test_failures_show_error_name_and_message() -> None:
    for status in ("FAILED", "CRASHED", "SYSTEM_FAILURE"):
        m = default_message(t_for(status), snap(status, error="Out of memory"))
        assert m.error == "Error: Out of memory" and m.severity == "failure"


def test_template_overrides_and_sandbox() -> None:
    tpl = compile_template("{{ run.task }} is {{ run.status | lower }}", "{{ video_url }}")
    m, error = render(tpl, t_for("COMPLETED"), snap("COMPLETED", output=OUTPUT))
    assert m.title == "create-content is completed" and m.body == OUTPUT["videoSourceUrl"] and error is None
    default = render(None, t_for("COMPLETED"), snap("COMPLETED"))
    hidden = compile_template("{{ run.__class__.__mro__ }}", "")
    assert render(hidden, t_for("COMPLETED"), snap("COMPLETED")) == default  # sandboxed: nothing
    unsafe = compile_template("{{ run.items.__self__.clear() }}", "")
    m, error = render(unsafe, t_for("COMPLETED"), snap("COMPLETED"))
    assert m == default[0] and error is not None and error.startswith("SecurityError")  # refused, sent


def test_a_template_raising_anything_gives_the_default_message_and_the_error() -> None:
    run, t = snap("FAILED", error="Out of memory"), t_for("FAILED")
    for body, error in [
        ("{{ run.task + 1 }}", 'TypeError: can only concatenate str (not "int") to str'),
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("{{ run.output.size + 1 }}", "UndefinedError: 'None' has no attribute 'size'"),
        ("{{ '{x}'.format_map(run.metadata) }}", "KeyError: 'x'"),
    ]:
        assert render(compile_template("t", body), t, run) == (default_message(t, run), error)


def test_a_run_too_deep_to_copy_for_a_template_gets_the_default_message() -> None:
    deep: dict[str, object] = {}
    for _ in range(5000):  # deeper than Python's recursion limit: copying it raises
        deep = {"x": deep}
    run, t = snap("FAILED", error="Out of memory", metadata=deep), t_for("FAILED")
    message, error = render(compile_template("t", "{{ run.task }}"), t, run)
    assert message == default_message(t, run) and error is not None and error.startswith("RecursionError")


def test_templates_per_channel_kind_override_the_rule_s() -> None:
    slack = compile_template("", "{{ video_url }} :tada:")
    tpl = compile_template("{{ run.task }} done", "see {{ video_url }}", {"slack": slack})
    run, t = snap("COMPLETED", output=OUTPUT), t_for("COMPLETED")
    assert render(tpl, t, run, "slack")[0].body == f"{OUTPUT['videoSourceUrl']} :tada:"
    assert render(tpl, t, run, "slack")[0].title == "create-content done"  # inherited
    assert render(tpl, t, run, "apprise")[0].body == f"see {OUTPUT['videoSourceUrl']}"
