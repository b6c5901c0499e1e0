"""Where snapshots come from: one module per platform (pollers, webhook body parsers)."""
