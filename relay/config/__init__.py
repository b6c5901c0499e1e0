"""rules.yaml -> typed settings (sources, channels, delivery, rules), errors with file:line.

schema.py holds the settings, load.py reads the file (with yamlfile.py and reader.py), and
kinds.py is where the source kinds register their options: config imports no stage.
"""

from relay.config.load import load_ruleset
from relay.config.schema import (
    MIN_POLL_EVERY,
    ChannelConfig,
    DeliveryPolicy,
    OncePer,
    Rule,
    RuleSet,
    SourceConfig,
)

__all__ = [
    "MIN_POLL_EVERY",
    "ChannelConfig",
    "DeliveryPolicy",
    "OncePer",
    "Rule",
    "RuleSet",
    "SourceConfig",
    "load_ruleset",
]
