"""Load settings from one YAML file plus ROUTEWATCH_* environment overrides."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from routewatch.config.cameras import CameraConfig
from routewatch.config.files import FileRefusedError, read_regular_file
from routewatch.config.schema import Settings

ENV_PREFIX = "ROUTEWATCH_"
M = TypeVar("M", bound=BaseModel)
MAX_CONFIG_BYTES = 1_000_000
# Settings are a few levels deep; a deeper file is a mistake or an attack on the recursive parser.
MAX_DEPTH = 32


class ConfigError(ValueError):
    """A configuration problem, with the key path and the reason for each."""

    def __init__(self, problems: list[str], origin: str = "") -> None:
        self.problems = problems
        head = f"invalid configuration{f' in {origin}' if origin else ''}:"
        # One problem fits one line (what a log or a script's caller sees); several get a line each.
        text = f"{head} {problems[0]}" if len(problems) == 1 else "\n".join([head, *(f"  {p}" for p in problems)])
        super().__init__(text)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _set(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    node: Any = tree
    for i, k in enumerate(keys[:-1]):
        nxt = keys[i + 1]
        if isinstance(node, list):
            idx = int(k)
            while len(node) <= idx:
                node.append([] if nxt.isdigit() else {})
            node = node[idx]
            continue
        if k not in node or not isinstance(node[k], dict | list):
            node[k] = [] if nxt.isdigit() else {}
        node = node[k]
    last = keys[-1]
    if isinstance(node, list):
        idx = int(last)
        while len(node) <= idx:
            node.append({})
        node[idx] = value
    else:
        node[last] = value


def apply_env(tree: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Overlay ROUTEWATCH_SECTION__KEY=value variables (values parsed as YAML scalars).

    >>> apply_env({}, {"ROUTEWATCH_STORE__URL": "sqlite:///x.db", "ROUTEWATCH_ENGINE__CONFIRM_FIXES": "3"})
    {'engine': {'confirm_fixes': 3}, 'store': {'url': 'sqlite:///x.db'}}
    """
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__")]
        try:
            value = yaml.safe_load(env[name])
        except yaml.YAMLError:
            value = env[name]
        try:
            _set(tree, keys, value)
        except (ValueError, IndexError, TypeError) as exc:
            raise ConfigError([f"{'.'.join(keys)}: cannot apply {name}: {exc}"], "environment") from exc
    return tree


def parse_settings(tree: Mapping[str, Any], origin: str = "") -> Settings:
    """Validate a settings tree; errors name the key path, e.g. `sources[0].url: ...`."""
    return _validate(Settings, tree, origin)


def _validate(model: type[M], tree: Any, origin: str) -> M:
    try:
        return model.model_validate(tree)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{_path(tuple(err['loc']))}: {msg}")
        raise ConfigError(problems, origin) from None


def load_camera(path: str | Path) -> CameraConfig:
    """A camera file (YAML or JSON): name, ground control points, start time, processing rate."""
    return _validate(CameraConfig, _read_yaml(Path(path)), f"camera file {path}")


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (if any), apply environment overrides, validate."""
    tree: dict[str, Any] = {}
    origin = ""
    if path is not None:
        p = Path(path)
        origin = str(p)
        tree = _read_yaml(p)
        _resolve_paths(tree, p.parent)
    tree = apply_env(tree, os.environ if env is None else env)
    return parse_settings(tree, origin)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool) and key is not None:
                continue  # an unhashable key: the base class names it
            if key in seen:
                m = key_node.start_mark
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=m)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_events(raw: bytes, origin: str) -> None:
    """Refuse aliases (a small file could expand into a huge tree) and deep nesting before building the tree."""
    depth = 0
    for ev in yaml.parse(raw, Loader=yaml.SafeLoader):
        if isinstance(ev, yaml.AliasEvent):
            raise ConfigError(["YAML anchors/aliases (*name) are not supported in settings files"], origin)
        if isinstance(ev, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                m = ev.start_mark
                where = f"line {m.line + 1}, column {m.column + 1}: " if m is not None else ""
                raise ConfigError([f"{where}nested more than {MAX_DEPTH} levels deep"], origin)
        elif isinstance(ev, yaml.CollectionEndEvent):
            depth -= 1


def _read_yaml(p: Path) -> dict[str, Any]:
    """A YAML (or JSON) file as a plain mapping; problems as ConfigError with the line."""
    origin = str(p)
    try:
        raw = read_regular_file(p, MAX_CONFIG_BYTES)
    except FileRefusedError as exc:
        raise ConfigError([str(exc)], origin) from None
    try:
        _check_events(raw, origin)
        loaded = yaml.load(raw, Loader=_UniqueKeyLoader) or {}  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"], origin) from None
    except RecursionError:  # the depth check should prevent this; never a traceback if it does not
        raise ConfigError([f"nested more than {MAX_DEPTH} levels deep"], origin) from None
    if not isinstance(loaded, dict):
        raise ConfigError(["(root): expected a mapping of sections"], origin)
    tree: dict[str, Any] = json.loads(json.dumps(loaded, default=str))
    return tree


def _resolve_paths(tree: dict[str, Any], base: Path) -> None:
    """Relative file paths in a config file are relative to that file."""
    corr = tree.get("corridors")
    if isinstance(corr, dict) and isinstance(corr.get("file"), str) and not Path(corr["file"]).is_absolute():
        corr["file"] = str(base / corr["file"])
    sectors = tree.get("sectors")
    for area in (sectors.get("areas") or []) if isinstance(sectors, dict) else []:
        if isinstance(area, dict) and isinstance(area.get("file"), str) and not Path(area["file"]).is_absolute():
            area["file"] = str(base / area["file"])
    for src in tree.get("sources") or []:
        if isinstance(src, dict) and isinstance(src.get("url"), str):
            url = src["url"]
            rel = url.removeprefix("file:")
            if (url.startswith("file:") or url.endswith(".tlog")) and not Path(rel).is_absolute():
                src["url"] = ("file:" if url.startswith("file:") else "") + str(base / rel)


def settings_reference() -> str:
    """Every setting as one Markdown table (`routewatch config reference`); see routewatch.config.reference."""
    # Imported here, so that `python -m routewatch.config.reference` runs a module not yet imported.
    from routewatch.config import reference

    return reference.settings_reference()
