"""Writer: buffers rows, commits them in batches, spools them to a journal while the database is away."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from routewatch.config.store import StoreConfig
from routewatch.model import AlertChange, DeadLetter, Observation
from routewatch.store.journal import Journal

log = logging.getLogger(__name__)

# Positions held in memory while neither the database nor the journal takes them.
MAX_BUFFERED = 1_000_000
# Dead-letter retention runs at most this often (wall seconds), and sooner once a tenth of the
# allowed count came in since: a flood is cut back within about 10% of store.dead_letters_max_count.
PRUNE_EVERY_S = 60.0


class ChangeSink(Protocol):
    """Receives alert lifecycle changes after they are committed."""

    def __call__(self, changes: Sequence[AlertChange]) -> None: ...


class BatchWrites(Protocol):
    """Writes one flush (alert changes, positions, dead letters) in one transaction (store.batches)."""

    def write(self, changes: Sequence[AlertChange], observations: Sequence[Observation],
              dead_letters: Sequence[DeadLetter] = ()) -> None: ...


class DeadLetterRetention(Protocol):
    """Deletes old dead letters (store.dead_letters)."""

    def prune(self, *, before: datetime, keep: int) -> int: ...


class WriterStore(Protocol):
    """What a Writer writes with: the batch unit of work and dead-letter retention."""

    @property
    def batches(self) -> BatchWrites: ...

    @property
    def dead_letters(self) -> DeadLetterRetention: ...


class Writer:
    """Buffers alert changes, positions and dead letters; the database is written before anyone is told."""

    def __init__(self, store: WriterStore, cfg: StoreConfig, sinks: Iterable[ChangeSink] = (),
                 journal: Journal | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store, self.cfg, self.journal = store, cfg, journal
        self.sinks = list(sinks)
        self._changes: list[AlertChange] = []
        self._obs: list[Observation] = []
        self._dead: list[DeadLetter] = []
        self.positions_dropped = 0
        self.spooled = 0
        self.dead_letters_pruned = 0
        self._clock = clock
        self._next_prune = 0.0
        self._dead_since_prune = 0

    def add(self, changes: Sequence[AlertChange], observations: Sequence[Observation],
            dead_letters: Sequence[DeadLetter] = ()) -> None:
        """Queue rows (see `due`); positions beyond MAX_BUFFERED are dropped oldest first and counted."""
        self._changes.extend(changes)
        self._dead.extend(dead_letters)
        if self.cfg.positions:
            self._obs.extend(observations)
            over = len(self._obs) - MAX_BUFFERED
            if over > 0:
                del self._obs[:over]
                self.positions_dropped += over

    @property
    def due(self) -> bool:
        """Enough is buffered to be worth a write."""
        return max(len(self._obs), len(self._changes), len(self._dead)) >= self.cfg.flush_every

    @property
    def pending(self) -> int:
        """Rows waiting in memory."""
        return len(self._changes) + len(self._obs) + len(self._dead)

    def flush(self) -> bool:
        """Write spooled batches, then the buffer. True: all in the database; False: buffer spooled.

        Raises only when the rows are safe nowhere (no journal, or the journal failed); they then
        stay buffered for the next try. Writes are idempotent, so any retry is safe.
        """
        changes, obs, dead = self._changes, self._obs, self._dead
        self._changes, self._obs, self._dead = [], [], []
        try:
            self._drain_journal()
            if changes or obs or dead:
                self.store.batches.write(changes, obs, dead)
        except Exception as exc:
            if self.journal is None:
                self._restore(changes, obs, dead)
                raise
            try:
                if changes or obs or dead:
                    self.journal.append(changes, obs, dead)
            except OSError:
                self._restore(changes, obs, dead)
                raise
            self.spooled += 1
            log.warning("database unavailable (%s): %d rows spooled to %s", type(exc).__name__,
                        len(changes) + len(obs) + len(dead), self.journal.dir)
            return False
        self._tell(changes)
        self._dead_since_prune += len(dead)
        self._prune_dead_letters()
        return True

    def _prune_dead_letters(self) -> None:
        """Keep dead letters within store.dead_letters_max_age_s and store.dead_letters_max_count."""
        now = time.monotonic()
        if now < self._next_prune and self._dead_since_prune < self.cfg.dead_letters_max_count // 10:
            return
        self._next_prune, self._dead_since_prune = now + PRUNE_EVERY_S, 0
        before = self._clock() - timedelta(seconds=self.cfg.dead_letters_max_age_s)
        try:
            gone = self.store.dead_letters.prune(before=before, keep=self.cfg.dead_letters_max_count)
        except Exception as exc:  # retention is housekeeping: never lose the rows just written over it
            log.error("dead-letter retention failed: %s", type(exc).__name__)
            return
        self.dead_letters_pruned += gone
        if gone:
            log.info("dead letters: %d deleted (older than %g s, or beyond the newest %d)", gone,
                     self.cfg.dead_letters_max_age_s, self.cfg.dead_letters_max_count)

    def _drain_journal(self) -> None:
        if self.journal is None:
            return
        for path, batch in self.journal.batches():
            self.store.batches.write(batch.changes, batch.observations, batch.dead_letters)
            self.journal.done(path)
            self._tell(batch.changes)

    def _restore(self, changes: list[AlertChange], obs: list[Observation], dead: list[DeadLetter]) -> None:
        self._changes[:0], self._obs[:0], self._dead[:0] = changes, obs, dead

    def _tell(self, changes: Sequence[AlertChange]) -> None:
        if changes:
            for sink in self.sinks:
                sink(changes)
