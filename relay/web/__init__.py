"""Thin HTTP: routes.py lists every endpoint."""
