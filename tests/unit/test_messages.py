import base64

from relay.messages import default_message, video_url
from relay.models import Link, Phase, Transition, Via
from relay.payload import build_payload
from relay.rules.templates import compile_template, render
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
    m = render(tpl, t_for("COMPLETED"), snap("COMPLETED", output=OUTPUT))
    assert m.title == "create-content is completed" and m.body == OUTPUT["videoSourceUrl"]
    default = render(None, t_for("COMPLETED"), snap("COMPLETED"))
    hidden = compile_template("{{ run.__class__.__mro__ }}", "")
    assert render(hidden, t_for("COMPLETED"), snap("COMPLETED")) == default  # sandboxed: nothing
    unsafe = compile_template("{{ run.items.__self__.clear() }}", "")
    m = render(unsafe, t_for("COMPLETED"), snap("COMPLETED"))
    assert m.title == default.title and "template error" in m.body  # refused, still sent


def test_templates_per_channel_kind_override_the_rule_s() -> None:
    slack = compile_template("", "{{ video_url }} :tada:")
    tpl = compile_template("{{ run.task }} done", "see {{ video_url }}", {"slack": slack})
    run, t = snap("COMPLETED", output=OUTPUT), t_for("COMPLETED")
    assert render(tpl, t, run, "slack").body == f"{OUTPUT['videoSourceUrl']} :tada:"
    assert render(tpl, t, run, "slack").title == "create-content done"  # inherited
    assert render(tpl, t, run, "apprise").body == f"see {OUTPUT['videoSourceUrl']}"
