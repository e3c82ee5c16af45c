"""The base of every settings section."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section: unknown keys are refused, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def require_unique(names: Iterable[str], what: str) -> None:
    """Raise ValueError naming the repeated names (a validator's check of ids in a list).

    >>> require_unique(["a", "b"], "source name")
    >>> require_unique(["a", "b", "a"], "source name")
    Traceback (most recent call last):
    ...
    ValueError: duplicate source name(s) ['a']
    """
    listed = list(names)
    dup = sorted({n for n in listed if listed.count(n) > 1})
    if dup:
        raise ValueError(f"duplicate {what}(s) {dup}")


def speeds_by_class(speeds: dict[str, float], default: float) -> dict[str, float]:
    """A validator's check of speeds by subject class (m/s), with 'default' filled in when absent.

    >>> speeds_by_class({"car": 60.0}, 90.0)
    {'default': 90.0, 'car': 60.0}
    >>> speeds_by_class({"car": 0.0}, 90.0)
    Traceback (most recent call last):
    ...
    ValueError: speeds must be in (0, 2000] m/s: {'car': 0.0}
    """
    bad = {k: s for k, s in speeds.items() if not (0 < s <= 2000)}
    if bad:
        raise ValueError(f"speeds must be in (0, 2000] m/s: {bad}")
    return {"default": default, **speeds}
