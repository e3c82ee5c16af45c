"""routewatch's MQTT payload schemas (JSON Schema 2020-12): shipped in the package, used for validation."""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator

NAMES = ("pos.v1", "det.v1", "telemetry.v1", "alert.v1", "frame.v1")
"""The payload formats, by topic kind and version: routewatch/v1/pos/<source> is pos.v1; alerts out are alert.v1;
camera frames in (routewatch/v1/frames/<camera>) are frame.v1."""


def load_schema(name: str) -> dict[str, Any]:
    """The schema document `name` (one of NAMES) as a fresh dict."""
    if name not in NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(NAMES)}")
    doc: dict[str, Any] = json.loads(files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
    return doc


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The compiled validator of schema `name`, checked against the 2020-12 metaschema once and cached."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
