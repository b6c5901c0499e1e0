from relay.channels.email_html import html_body
from relay.channels.slack import slack_payload
from relay.messages import default_message, truncate
from relay.models import Message, Phase, Transition, Via
from tests.builders import T0, snap

VIDEO = "https://v3.fal.media/files/x/final.mp4"


def transition(status: str) -> Transition:
    return Transition(
        "t", "recoup", "run_1", Phase.RUNNING, snap(status).phase, "EXECUTING", status, T0, Via.POLL
    )


def test_truncation_cuts_at_a_word_and_says_so() -> None:
    text = "word " * 100
    cut = truncate(text, 60)
    assert len(cut) <= 60 and cut.endswith(" …") and not cut[:-2].endswith(" ")
    assert truncate("short", 60) == "short"
    assert truncate("x" * 100, 10) == "x" * 9 + "…"  # no boundary near: cut, still marked


def test_slack_completed_message_has_emoji_link_and_facts() -> None:
    run = snap(
        "COMPLETED",
        output={
            "videoSourceUrl": VIDEO,
            "captionText": "new <single>",
            "template": "artist-caption-bedroom",
            "imageUrl": "https://x/i.png",
        },
        duration_ms=125_000,
        cost_cents=42.0,
        url="https://cloud.trigger.dev/runs/run_1",
    )
    payload = slack_payload(default_message(transition("COMPLETED"), run))
    section = payload["blocks"][0]["text"]["text"]
    assert section.startswith(":white_check_mark: *create-content completed (recoup)*")
    assert f"<{VIDEO}|{VIDEO}>" in section and "new &lt;single&gt;" in section
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert "*Duration*\n2m 05s" in fields and "*Cost*\n$0.42" in fields
    assert (
        "*Template*\nartist-caption-bedroom" in fields
        and "*Image*\n<https://x/i.png|https://x/i.png>" in fields
    )
    assert (
        payload["blocks"][2]["elements"][0]["text"] == "<https://cloud.trigger.dev/runs/run_1|Open the run>"
    )
    assert VIDEO in payload["text"]  # the notification preview text


def test_slack_failure_puts_a_long_error_in_a_code_block_within_limits() -> None:
    run = snap("FAILED", error="line of a very long stack trace\n" * 300)
    payload = slack_payload(default_message(transition("FAILED"), run))
    section = payload["blocks"][0]["text"]["text"]
    assert section.startswith(":x: *create-content failed (recoup)*") and "```Error: line of" in section
    assert len(section) <= 3000 and len(payload["text"]) <= 3000


def test_html_email_escapes_and_links() -> None:
    m = Message(
        "t <b>",
        f"Run r1\nVideo: {VIDEO}\nError: a < b",
        "failure",
        "https://run/1",
        (("Image", "https://i"),),
    )
    html = html_body(m)
    assert "t &lt;b&gt;" in html and "a &lt; b" in html
    assert (
        f'<a href="{VIDEO}">' in html
        and '<a href="https://i">' in html
        and '<a href="https://run/1">' in html
    )
