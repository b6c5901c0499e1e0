"""The HTML body of an e-mail: the same facts as the text, laid out for an inbox.
(apprise derives the plain-text alternative from it.)"""

from __future__ import annotations

import jinja2

from relay.models import Message

COLORS = {"success": "#1a7f37", "failure": "#cf222e", "info": "#57606a"}

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2328">
<h2 style="margin: 0 0 12px; color: {{ color }}">{{ m.title }}</h2>
{% for line in m.body.splitlines() %}{% if line.startswith("Error: ") %}
<pre style="background: #f6f8fa; padding: 8px; white-space: pre-wrap">{{ line[7:] }}</pre>
{% elif line.startswith("Video: ") %}
<p>Video: <a href="{{ line[7:] }}">{{ line[7:] }}</a></p>
{% else %}<p style="margin: 4px 0">{{ line }}</p>{% endif %}{% endfor %}
{% if m.fields %}<table style="border-collapse: collapse; margin-top: 12px">
{% for key, value in m.fields %}<tr><td style="padding: 2px 12px 2px 0; color: #57606a">{{ key }}</td>
<td>{% if value.startswith("https://") %}<a href="{{ value }}">{{ value }}</a>
{%- else %}{{ value }}{% endif %}</td></tr>
{% endfor %}</table>{% endif %}
{% if m.rows %}<table style="border-collapse: collapse; margin-top: 12px">
<tr>{% for h in m.rows[0] %}
<th style="text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid #d0d7de">{{ h }}</th>
{%- endfor %}</tr>
{% for row in m.rows[1:] %}<tr>{% for cell in row %}<td style="padding: 3px 10px 3px 0; vertical-align: top">
{%- if cell.startswith("https://") %}<a href="{{ cell }}">video</a>{% else %}{{ cell }}{% endif %}</td>
{%- endfor %}</tr>
{% endfor %}</table>{% endif %}
{% if m.link %}<p style="margin-top: 16px"><a href="{{ m.link }}">Open the run</a></p>{% endif %}
</body></html>"""
)


def html_body(message: Message) -> str:
    return _TEMPLATE.render(m=message, color=COLORS.get(message.severity, COLORS["info"]))
