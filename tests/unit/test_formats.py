from dataclasses import replace

import pytest

from relay.delivery.grouping import merge
from relay.digests import DigestSpec
from relay.models import Delivery, DeliveryStatus, Link, Message, Phase, Transition, Via
from relay.render.default import default_message
from relay.render.digest import digest_message, item_for
from relay.render.email import html_body
from relay.render.escape import fit, truncate, web_url
from relay.render.output import inline_video_bytes, safe_output
from relay.render.slack import slack_payload
from relay.render.text import console_text, text_body
from tests.builders import T0, snap
from tests.checks import HOSTILE, apprise_text_part, assert_slack_safe, html_links, slack_links

VIDEO = "https://v3.fal.media/files/x/final.mp4"
RUN = "https://cloud.trigger.dev/runs/run_1"


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


def test_fit_cuts_before_escaping_so_the_limit_holds_after_it() -> None:
    def escape(s: str) -> str:
        return s.replace("&", "&amp;")

    out = fit("&" * 10_000, 3000, escape)
    assert len(out) <= 3000 and out.endswith("…") and not out.removesuffix("…").endswith(("&amp", "&"))
    assert fit("a & b", 100, escape) == "a &amp; b"


@pytest.mark.parametrize(
    ("url", "vetted"),
    [
        ("https://x.example/a?b=1&c=2", "https://x.example/a?b=1&c=2"),
        ("HTTP://x.example/a b|c<d>", "HTTP://x.example/a%20b%7Cc%3Cd%3E"),
        ("javascript:alert(1)", None),
        ("JavaScript://x.example/%0aalert(1)", None),
        ("DATA:text/html,<script>", None),
        ("https:///no-host", None),
        ("//x.example/relative", None),
        ("http://[::1", None),
    ],
)
def test_only_http_urls_with_a_host_are_links(url: str, vetted: str | None) -> None:
    assert web_url(url) == vetted


def test_data_urls_are_recognised_whatever_their_case() -> None:
    output = {"videoSourceUrl": "DATA:video/mp4;base64,AAAA", "nested": [{"u": " Data:x"}]}
    assert inline_video_bytes(output) == 3
    assert safe_output(output) == {
        "videoSourceUrl": "[inline data omitted: 26 characters]",
        "nested": [{"u": "[inline data omitted: 7 characters]"}],
    }


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
        url=RUN,
    )
    payload = slack_payload(default_message(transition("COMPLETED"), run))
    header, body, video, image, fields, context = payload["blocks"]
    assert header["text"]["text"] == ":white_check_mark: create-content completed (recoup)"
    assert "new &lt;single&gt;" in body["text"]["text"]
    assert video["text"]["text"] == f"*Video:* <{VIDEO}|{VIDEO}>"
    assert image["text"]["text"] == "*Image:* <https://x/i.png|https://x/i.png>"
    texts = [f["text"] for f in fields["fields"]]
    assert texts == ["*Template*\nartist-caption-bedroom", "*Duration*\n2m 05s", "*Cost*\n$0.42"]
    assert context["elements"][0]["text"] == f"<{RUN}|Open the run>"
    assert VIDEO in payload["text"]  # the notification preview text
    assert_slack_safe(payload, {VIDEO, "https://x/i.png", RUN})


def test_slack_failure_puts_a_long_error_in_a_closed_code_block_within_limits() -> None:
    run = snap("FAILED", error="<!channel> & ``` line of a very long stack trace\n" * 300)
    payload = slack_payload(default_message(transition("FAILED"), run))
    code = payload["blocks"][2]["text"]["text"]
    assert code.startswith("```Error: &lt;!channel&gt; &amp; `\u200b`\u200b` line of")
    assert code.endswith("```")
    assert_slack_safe(payload, set())


def test_run_text_never_becomes_a_link_or_a_mention() -> None:
    m = Message(
        HOSTILE,
        HOSTILE,
        "failure",
        "javascript:alert(1)",
        ((HOSTILE, HOSTILE),),
        (("Task", "Outcome"), (HOSTILE, HOSTILE)),
        (Link(HOSTILE, "javascript:alert(1)"), Link("Video", f"{VIDEO}?a=<b>|c&d")),
        HOSTILE,
        ("DATA:text/html,x",),
    )
    vetted = f"{VIDEO}?a=%3Cb%3E%7Cc&d"
    payload = slack_payload(m)
    assert_slack_safe(payload, {vetted})
    assert slack_links(payload) == {vetted}
    html = html_body(m)
    assert html_links(html) == {vetted}
    assert "\x00" not in html and "\x1b" not in html and "\r" not in html
    console = console_text("console", m)
    assert "\x1b" not in console and "\r" not in console and "\x00" not in console
    assert all(line.startswith("  ") for line in console.splitlines()[1:])  # no line fakes a message


def test_html_email_escapes_and_spells_out_every_link_for_the_text_part() -> None:
    m = Message(
        "t <b>",
        "Run r1\n<script>x</script>",
        "failure",
        "https://run/1",
        (("Song", "a & b"),),
        links=(Link("Video", VIDEO), Link("Image", "https://i")),
        error="a < b",
    )
    html = html_body(m)
    assert "t &lt;b&gt;" in html and "a &lt; b" in html and "&lt;script&gt;" in html
    assert html_links(html) == {VIDEO, "https://i", "https://run/1"}
    derived = apprise_text_part(html)  # what apprise sends as the text/plain part
    for url in (VIDEO, "https://i", "https://run/1"):
        assert url in derived and url in text_body(m)


def _member(n: int) -> Delivery:
    m = default_message(transition("FAILED"), snap("FAILED", run_id=f"r{n}", url=f"{RUN}{n}"))
    return Delivery(
        f"d{n}", "t", "failures", "slack", f"k{n}", m, {}, DeliveryStatus.PENDING, 0, T0, T0
    )


def test_a_large_group_says_how_many_it_left_out_in_every_channel() -> None:
    members = [_member(n) for n in range(60)]
    m = merge(members).message
    assert m.title == "failures: 60 notifications" and len(m.rows) == 51 and m.more == 10
    payload = slack_payload(m)
    assert "… and 10 more" in payload["blocks"][-1]["text"]["text"]
    assert_slack_safe(payload, {f"{RUN}{n}" for n in range(60)})
    assert len(slack_links(payload)) == 50
    for text in (html_body(m), apprise_text_part(html_body(m)), text_body(m), console_text("c", m)):
        assert "… and 10 more" in text
        assert f"{RUN}49" in text and f"{RUN}50" not in text


def test_slack_counts_the_rows_it_has_no_room_for() -> None:
    rows = (("Task", "Outcome"), *((f"task {n} " + "x" * 400, "failed") for n in range(400)))
    payload = slack_payload(Message("digest", "", rows=rows, more=5))
    assert len(payload["blocks"]) == 50
    shown = sum(t["text"]["text"].count("• ") for t in payload["blocks"][1:-1])
    assert f"… and {400 - shown + 5} more" == payload["blocks"][-1]["text"]["text"]
    assert_slack_safe(payload, set())


def test_a_template_can_not_make_links() -> None:
    m = replace(Message("t", f"<{VIDEO}|click> {VIDEO}"), links=())
    assert slack_links(slack_payload(m)) == set() and html_links(html_body(m)) == set()


def test_a_large_digest_lists_what_fits_and_counts_the_rest() -> None:
    spec = DigestSpec("0 9 * * *")
    runs = [
        snap("COMPLETED", run_id=f"r{n}", output={"videoSourceUrl": f"{VIDEO}?n={n}"})
        for n in range(250)
    ]
    done = transition("COMPLETED")
    items = [item_for("overnight", "mail", spec, done, run, redacted=False) for run in runs]
    m = digest_message("overnight", spec, spec.window_end(T0), items)
    assert m.title == "Digest overnight: 250 succeeded"
    assert len(m.rows) == 201 and m.more == 50 and m.row_links[0] == f"{VIDEO}?n=0"
    for text in (html_body(m), apprise_text_part(html_body(m)), text_body(m), console_text("c", m)):
        assert "… and 50 more" in text and f"{VIDEO}?n=199" in text and f"{VIDEO}?n=200" not in text
    payload = slack_payload(m)
    assert payload["blocks"][-1]["text"]["text"] == "… and 50 more"
    assert_slack_safe(payload, {f"{VIDEO}?n={n}" for n in range(200)})
    *listed, more = payload["text"].splitlines()[2:]  # after the title and the body
    assert len(listed) + int(more.removeprefix("… and ").removesuffix(" more")) == 250


def test_slack_limits_hold_for_text_that_grows_when_escaped() -> None:
    worst = "&<>`|" * 200_000  # 1 MB, five times as long once escaped
    long_url = "https://x.example/" + "&" * 3000
    m = Message(
        worst,
        worst,
        link=long_url,
        fields=tuple((worst, worst) for _ in range(12)),
        rows=(("a", "b"), *((worst, worst) for _ in range(100))),
        links=(Link(worst, long_url), Link("Video", VIDEO)),
        error=worst,
        row_links=(VIDEO, long_url) * 50,
        more=1,
    )
    payload = slack_payload(m)
    assert_slack_safe(payload, {VIDEO})
    assert len(payload["text"]) <= 3000 and payload["blocks"][-1]["text"]["text"].startswith("… and ")
