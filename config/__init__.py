"""Typed, validated, frozen node settings loaded from TOML (`node.toml`).

`load_config(path)` is the only entry point; `ConfigError` names the file and
the dotted key of any problem. See `node.example.toml` for every setting.
"""

from config.errors import ConfigError
from config.load import load_config, parse_duration, parse_size
from config.schema import NodeConfig

__all__ = ["ConfigError", "NodeConfig", "load_config", "parse_duration", "parse_size"]
