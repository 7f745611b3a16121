"""Commit marks shared by the workers of `serve --workers N` (domain.ports.CommitMarks):
a file of 8-byte slots mapped into every worker. A committer writes the commit's log
position into the slot each changed aggregate hashes to; a reader keeps a cached
aggregate only while its slot still holds what it held before the aggregate was loaded.

Every commit's position is new, so a mark written after a load always differs from
the one seen before it (two aggregates sharing a slot only cost a reload). Slot 0 is
an epoch the supervisor moves on when a worker dies: a worker killed between its
commit and its mark leaves no stale aggregate anywhere once the others see the epoch.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID

SLOTS = 1 << 16
_WIDTH = 8


class MappedCommitMarks:
    def __init__(self, path: Path, slots: int = SLOTS) -> None:
        size = (slots + 1) * _WIDTH
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)  # zeros: no mark yet
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED)
        finally:
            os.close(fd)
        # aligned 8-byte loads and stores: a reader never sees half a mark
        self._slots = memoryview(self._map).cast("Q")
        self._count = slots

    def mark(self, aggregate_ids: Iterable[UUID], position: int) -> None:
        slots, count = self._slots, self._count
        for aggregate_id in aggregate_ids:
            slots[1 + aggregate_id.int % count] = position

    def stamp(self, aggregate_id: UUID) -> tuple[int, int]:
        return self._slots[0], self._slots[1 + aggregate_id.int % self._count]

    def new_epoch(self) -> None:
        """Every cached aggregate in every worker is loaded again (the supervisor's
        call, the only writer of the epoch)."""
        self._slots[0] += 1
