"""Configuration: pydantic settings schema and the YAML/env loader."""

from routewatch.config.loader import ConfigError, load_settings, parse_settings
from routewatch.config.schema import Settings

__all__ = ["ConfigError", "Settings", "load_settings", "parse_settings"]
