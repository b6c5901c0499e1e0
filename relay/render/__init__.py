"""Rendering: run data in, what a receiver gets out. Pure: no I/O, no clock, no random id.

- escape.py    run text made safe to show: controls removed, mentions inert, URLs vetted, cut
- output.py    what a create-content output shows: its video link, never a `data:` URL
- default.py   the default Message of a transition, when a rule has no template
- templates.py a rule's Jinja2 templates (sandboxed), falling back to the default Message
- digest.py    a digest window's items as one Message
- group.py     a group of deliveries as one Message
- text.py      a Message as plain text: console, chat services, e-mail's text part
- email.py     a Message as an e-mail's HTML
- slack.py     a Message as a Slack Block Kit payload
- payload.py   the outbound webhook payloads (transition, group, digest), versioned
"""
