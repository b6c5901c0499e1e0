"""The operator's console (issue 12): server-rendered pages under /console, behind the admin
token. session.py signs the cookie and the CSRF tokens, guard.py puts every page and form
behind them, pages.py and actions.py are the pages and the forms, views.py shapes the data,
render.py the templates (autoescaped: run data is untrusted text)."""

from relay.console.routes import ROUTES

__all__ = ["ROUTES"]
