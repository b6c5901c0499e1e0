"""Channels: one module per kind, behind the tiny interface in base.py."""
