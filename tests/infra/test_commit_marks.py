"""Commit marks (serve --workers N): each worker's read cache serves an aggregate only
while no other worker has committed to it since it was loaded. Two caches over one
marks file stand for two workers."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from domain.runtime.read_cache import NotInMemory, ReadCache
from infra.eventstore.marks import MappedCommitMarks


def test_a_commit_in_another_worker_makes_this_one_load_again(tmp_path: Path) -> None:
    path = tmp_path / "commit-marks"
    mine = ReadCache(100, MappedCommitMarks(path))
    theirs = MappedCommitMarks(path)  # the other worker's view of the same file
    photo, other = uuid4(), uuid4()
    stored = {photo: "v1", other: "o1"}
    assert mine.get(photo, lambda: stored[photo]) == "v1"
    assert mine.get(other, lambda: stored[other]) == "o1"
    assert mine.peek(photo) == "v1"  # served from memory

    stored[photo] = "v2"  # the other worker commits, then marks
    theirs.mark([photo], position=7)
    with pytest.raises(NotInMemory):
        mine.peek(photo)
    assert mine.get(photo, lambda: stored[photo]) == "v2"
    assert mine.peek(photo) == "v2"
    assert mine.peek(other) == "o1"  # untouched aggregates stay (unless a slot is shared)


def test_a_mark_during_a_load_is_not_missed(tmp_path: Path) -> None:
    path = tmp_path / "commit-marks"
    mine, theirs = ReadCache(100, MappedCommitMarks(path)), MappedCommitMarks(path)
    photo = uuid4()

    def load_racing_a_commit() -> str:
        theirs.mark([photo], position=9)  # committed after the stamp, during the load
        return "before the commit"
    assert mine.get(photo, load_racing_a_commit) == "before the commit"
    with pytest.raises(NotInMemory):  # kept, but not served: its mark moved
        mine.peek(photo)


def test_a_new_epoch_drops_every_cached_aggregate(tmp_path: Path) -> None:
    path = tmp_path / "commit-marks"
    mine, supervisor = ReadCache(100, MappedCommitMarks(path)), MappedCommitMarks(path)
    photo = uuid4()
    mine.get(photo, lambda: "cached")
    supervisor.new_epoch()  # a worker died, perhaps between a commit and its mark
    with pytest.raises(NotInMemory):
        mine.peek(photo)
