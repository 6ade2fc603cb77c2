"""The errors every layer raises, in a module that imports nothing, so any layer can raise them without
importing another."""
from __future__ import annotations


class ConfigError(ValueError):
    """A bad config key or value; the message lists what is valid."""
