"""Shared by every test layer."""

# the source kinds register their options (relay.config.kinds) when imported: as the service
# and the CLI do, every test that loads a rules.yaml has them
import relay.sources.registry  # noqa: F401
