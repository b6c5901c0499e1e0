"""run-relay: run updates in, rule-matched notifications out."""

__version__ = "0.1.0"
