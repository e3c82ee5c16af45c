"""The settings reference, generated from the schema: `python -m routewatch.config.reference > docs/settings.md`.

Pure: the functions return Markdown and read nothing; a test checks that docs/settings.md is current.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from routewatch.config.schema import Settings

REGENERATE = "python -m routewatch.config.reference > docs/settings.md"
_HEAD = ["| key | type | default | description |", "|---|---|---|---|"]
_OPS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "min length", "max_length": "max length"}

_INTRO = f"""\
# Settings reference

<!-- Generated from the settings models in src/routewatch/config/; do not edit. Regenerate: {REGENERATE} -->

One YAML file (`routewatch run -c FILE`, `routewatch config check FILE`) plus `ROUTEWATCH_*`
environment overrides with `__` between keys (`ROUTEWATCH_STORE__URL=...`,
`ROUTEWATCH_SOURCES__0__URL=...`). Relative paths are relative to the file. A bad value fails at
start with its key path and the reason, e.g. `sources[0].url: unsupported scheme 'udpx'`. Example:
`examples/routewatch.yaml`. `routewatch config reference` prints the same rows as one table.

Keys are written as paths: `cameras[].recording.mode` is `mode` in the `recording` part of one
entry of the `cameras` list. A setting's bounds are checked at start.
"""


def settings_reference() -> str:
    """Markdown table of every setting with its type, default, bounds and description (one table)."""
    return "\n".join([*_HEAD, *(_row(key, field) for key, field in _fields(Settings, ""))])


def settings_page() -> str:
    """docs/settings.md: an introduction, then one table per top-level section of the settings file."""
    parts = [_INTRO]
    for name, field in Settings.model_fields.items():
        model, suffix = _section_model(field)
        about = (model.__doc__ or "").strip() if model is not None else ""
        if field.description:
            about = f"{field.description} Each entry: {about[:1].lower()}{about[1:]}" if about else field.description
        rows = _fields(model, f"{name}{suffix}.") if model is not None else iter([(name, field)])
        table = "\n".join([*_HEAD, *(_row(key, f) for key, f in rows)])
        parts.append(f"## `{name}`\n\n{about}\n\n{table}\n" if about else f"## `{name}`\n\n{table}\n")
    return "\n".join(parts)


def _section_model(field: FieldInfo) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds (directly, or as the items of a list), and the key suffix for lists."""
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann, ""
    args = getattr(ann, "__args__", ())
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "[]"
    return None, ""


def _fields(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    """Every leaf setting under `model`, depth first, in declaration order, with its key path."""
    for name, field in model.model_fields.items():
        sub, suffix = _section_model(field)
        if sub is not None:
            yield from _fields(sub, f"{prefix}{name}{suffix}.")
        else:
            yield f"{prefix}{name}", field


def _row(key: str, field: FieldInfo) -> str:
    ann = field.annotation
    value = None if field.is_required() else field.get_default(call_default_factory=True)
    # Sets print in hash order, which changes between runs: sort them for a stable table.
    default = "" if field.is_required() else repr(sorted(value) if isinstance(value, frozenset) else value)
    tname = ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")
    bounds = ", ".join(_bound(m) for m in field.metadata)
    desc = (field.description or "") + (f" Bounds: {bounds}." if bounds else "")
    return f"| `{key}` | `{tname}` | `{default}` | {desc} |".replace("\n", " ")


def _bound(meta: object) -> str:
    for attr, op in _OPS.items():
        if hasattr(meta, attr):
            return f"{op} {getattr(meta, attr)}"
    return str(meta)


if __name__ == "__main__":
    sys.stdout.write(settings_page())
