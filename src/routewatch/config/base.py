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
