"""Puts events read from several partitions back into log order.

Within a partition the relay's records are in log order, and a watermark at position
W says every event up to W that belongs in that partition came before it. So once
every partition has shown a watermark of at least W, all events up to W are in hand:
they are released sorted by position, and W is how far the views are complete.
Events at or below what was already released are duplicates (at-least-once delivery,
or the relay publishing the log again) and are dropped: a position names one
(aggregate id, version) pair.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any


class Sequencer:
    def __init__(self, partitions: Iterable[int], released: int) -> None:
        self.released = released
        self._covered = dict.fromkeys(partitions, released)
        self._heap: list[tuple[int, int, int]] = []  # (position, partition, offset)
        self._items: dict[int, Any] = {}  # position -> item
        self.duplicates = 0

    def event(self, partition: int, offset: int, position: int, item: Any) -> None:
        if position <= self.released or position in self._items:
            self.duplicates += 1
            return
        self._items[position] = item
        heapq.heappush(self._heap, (position, partition, offset))

    def watermark(self, partition: int, position: int) -> None:
        if position > self._covered.get(partition, 0):
            self._covered[partition] = position

    @property
    def frontier(self) -> int:
        return min(self._covered.values(), default=self.released)

    def release(self) -> list[tuple[int, Any]]:
        """The events now known complete, in log order; moves `released` to the frontier."""
        frontier = self.frontier
        out: list[tuple[int, Any]] = []
        while self._heap and self._heap[0][0] <= frontier:
            position, _, _ = heapq.heappop(self._heap)
            out.append((position, self._items.pop(position)))
        self.released = max(self.released, frontier)
        return out

    def resume_offset(self, partition: int, next_offset: int) -> int:
        """Where to read `partition` from after a restart: its oldest held-back event,
        else the next record."""
        held = [offset for _, p, offset in self._heap if p == partition]
        return min(held, default=next_offset)

    @property
    def held(self) -> int:
        return len(self._heap)
