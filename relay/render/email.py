"""The HTML body of an e-mail: the same facts as the text, laid out for an inbox.

apprise derives the e-mail's text/plain part from this HTML (dropping every `href`), so each
link is shown as its own URL: the text part then carries every link the HTML part has.
Everything else is run data, escaped by Jinja2's autoescape (text and attributes); a link's
target is always a vetted http(s) URL (`web_url`), anything else is shown as text.
"""

from __future__ import annotations

import jinja2

from relay.models import Message
from relay.render.escape import clean, one_line, truncate, web_url
from relay.render.text import BODY_LIMIT, more_line

COLORS = {"success": "#1a7f37", "failure": "#cf222e", "info": "#57606a"}

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2328">
<h2 style="margin: 0 0 12px; color: {{ color }}">{{ title }}</h2>
{% macro url(raw) %}{% if web_url(raw) %}<a href="{{ web_url(raw) }}">{{ web_url(raw) }}</a>
{%- else %}{{ clean(raw) }}{% endif %}{% endmacro %}
{% for line in clean(body).splitlines() %}<p style="margin: 4px 0">{{ line }}</p>
{% endfor %}
{% for label, link in m.links %}<p style="margin: 4px 0">{{ clean(label) }}: {{ url(link) }}</p>
{% endfor %}
{% if m.error %}<pre style="background: #f6f8fa; padding: 8px; white-space: pre-wrap">
{{- clean(m.error) }}</pre>
{% endif %}
{% if m.fields %}<table style="border-collapse: collapse; margin-top: 12px">
{% for key, value in m.fields %}<tr><td style="padding: 2px 12px 2px 0; color: #57606a">{{ clean(key) }}</td>
<td>{{ clean(value) }}</td></tr>
{% endfor %}</table>{% endif %}
{% if m.rows %}<table style="border-collapse: collapse; margin-top: 12px">
<tr>{% for h in m.rows[0] %}
<th style="text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid #d0d7de">{{ clean(h) }}</th>
{%- endfor %}</tr>
{% for row in m.rows[1:] %}{% set link = m.row_links[loop.index0] if loop.index0 < m.row_links|length %}
<tr>{% for cell in row %}<td style="padding: 3px 10px 3px 0; vertical-align: top">{{ clean(cell) }}
{%- if loop.last and link %} {{ url(link) }}{% endif %}</td>
{%- endfor %}</tr>
{% endfor %}</table>{% endif %}
{% if m.more %}<p style="margin-top: 8px">{{ more_line(m.more) }}</p>{% endif %}
{% if m.link %}<p style="margin-top: 16px">Open the run: {{ url(m.link) }}</p>{% endif %}
{%- if m.console %}
<p style="margin-top: 8px">Replay or silence in the relay console: {{ url(m.console) }}</p>{% endif %}
</body></html>"""
)


def html_body(message: Message) -> str:
    return _TEMPLATE.render(
        m=message,
        title=one_line(message.title),
        body=truncate(message.body, BODY_LIMIT),
        color=COLORS.get(message.severity, COLORS["info"]),
        web_url=web_url,
        clean=clean,
        more_line=more_line,
    )
