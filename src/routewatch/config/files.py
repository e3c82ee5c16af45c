"""Reading an input file the user named: a regular file, bounded in size, never a pipe or a device."""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefusedError(ValueError):
    """A file that cannot be read as input: missing, unreadable, not a regular file, or too large."""


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is refused with the reason."""
    try:
        st = path.stat()
        kind = _not_regular(st.st_mode)
        if kind is not None:  # a FIFO blocks on open and /dev/zero never ends: refuse before opening
            raise FileRefusedError(f"{path} is {kind}, not a regular file")
        if st.st_size > limit:
            raise FileRefusedError(f"{path}: file is {st.st_size} bytes; the limit is {limit}")
        # O_NONBLOCK: a file swapped for a FIFO after the check still cannot hang the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            kind = _not_regular(os.fstat(f.fileno()).st_mode)
            if kind is not None:
                raise FileRefusedError(f"{path} is {kind}, not a regular file")
            data = f.read(limit + 1)
    except OSError as exc:
        raise FileRefusedError(f"cannot read file {path}: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew since the stat
        raise FileRefusedError(f"{path}: file is more than {limit} bytes; the limit is {limit}")
    return data
