"""A local, durable spool of rows the database could not take; written back when it returns."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from routewatch.model import AlertChange, DeadLetter, Observation
from routewatch.wire import (
    change_from_dict,
    change_to_dict,
    dead_letter_from_dict,
    dead_letter_to_dict,
    observation_from_dict,
    observation_to_dict,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    """One spooled write: what a single database transaction would have held."""

    changes: tuple[AlertChange, ...]
    observations: tuple[Observation, ...]
    dead_letters: tuple[DeadLetter, ...]


class Journal:
    """Append-only JSON-lines files, one per spooled batch, fsynced before `append` returns.

    Replaying is safe more than once: alert ids are deterministic and the store's writes are
    idempotent, so a batch written again after a crash changes nothing.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._next = max((self._number(p) for p in self._files()), default=0) + 1

    def _files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("batch-*.jsonl"), key=self._number)

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.removeprefix("batch-"))

    @property
    def pending(self) -> int:
        """Batches waiting to be written."""
        return len(self._files())

    def append(self, changes: Sequence[AlertChange], observations: Sequence[Observation],
               dead_letters: Sequence[DeadLetter] = ()) -> None:
        """Spool one batch durably (written to a temporary name, fsynced, then renamed)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.dir / f"batch-{self._next:08d}.jsonl"
        tmp = final.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for c in changes:
                f.write(json.dumps({"change": change_to_dict(c)}) + "\n")
            for o in observations:
                f.write(json.dumps({"position": observation_to_dict(o)}) + "\n")
            for d in dead_letters:
                f.write(json.dumps({"dead_letter": dead_letter_to_dict(d)}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(final)
        self._next += 1

    def batches(self) -> Iterator[tuple[Path, Batch]]:
        """Spooled batches, oldest first; a file cut short by a crash keeps its whole lines."""
        for path in self._files():
            changes: list[AlertChange] = []
            obs: list[Observation] = []
            dead: list[DeadLetter] = []
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    try:
                        row = json.loads(line)
                        if "change" in row:
                            changes.append(change_from_dict(row["change"]))
                        elif "position" in row:
                            obs.append(observation_from_dict(row["position"]))
                        else:
                            dead.append(dead_letter_from_dict(row["dead_letter"]))
                    except (ValueError, KeyError, TypeError, AssertionError) as exc:
                        log.error("journal %s line %d unreadable (%s); skipped", path.name, n, exc)
            yield path, Batch(tuple(changes), tuple(obs), tuple(dead))

    def done(self, path: Path) -> None:
        """A batch is in the database: forget it."""
        path.unlink(missing_ok=True)
