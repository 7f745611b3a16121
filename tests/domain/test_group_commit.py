"""Group commit: concurrent saves share transactions; a bad save fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.access import canned_acl
from domain.buckets import Bucket
from domain.runtime.group_commit import GroupCommit, Turns, Unit
from tests.conftest import META, now


class SlowDisk:
    """A transaction writer that takes a while, as an fsync does, and refuses units
    whose bucket name starts with 'bad'."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.position = 0
        self.lock = threading.Lock()

    def __call__(self, units: Sequence[Unit]) -> list[int]:
        names = [a.name for u in units for a in u.aggregates]  # type: ignore[attr-defined]
        time.sleep(0.01)
        if any(n.startswith("bad") for n in names):
            raise ValueError("refused")
        with self.lock:
            self.transactions.append(names)
            positions = []
            for unit in units:
                self.position += len(unit.events)
                positions.append(self.position)
            return positions


def bucket(name: str) -> Bucket:
    return Bucket.create(name, "alice", canned_acl("private", "alice"), "us-east-1", META, now())


def test_concurrent_saves_share_transactions_and_each_learns_its_position() -> None:
    disk = SlowDisk()
    group: GroupCommit[Unit] = GroupCommit(disk)
    with ThreadPoolExecutor(16) as pool:
        positions = list(pool.map(lambda n: group.submit(Unit.of([bucket(f"b{n:03}")])), range(64)))
    assert sorted(positions) == list(range(1, 65))  # each Bucket.create is one event
    written = [name for transaction in disk.transactions for name in transaction]
    assert sorted(written) == [f"b{n:03}" for n in range(64)]
    assert len(disk.transactions) < 64 / 2  # most transactions carried several saves


def test_a_refused_save_fails_alone_and_its_batch_mates_are_written() -> None:
    disk = SlowDisk()
    group: GroupCommit[Unit] = GroupCommit(disk)
    names = [f"b{n:03}" for n in range(15)] + ["bad"]

    def save(name: str) -> str:
        try:
            group.submit(Unit.of([bucket(name)]))
        except ValueError:
            return "refused"
        return "ok"

    with ThreadPoolExecutor(16) as pool:
        outcomes = dict(zip(names, pool.map(save, names), strict=True))
    assert outcomes.pop("bad") == "refused"
    assert set(outcomes.values()) == {"ok"}
    assert sorted(n for t in disk.transactions for n in t) == sorted(names[:-1])


def test_a_save_with_no_company_is_written_at_once() -> None:
    disk = SlowDisk()
    group: GroupCommit[Unit] = GroupCommit(disk)
    assert group.submit(Unit.of([bucket("solo")])) == 1
    assert disk.transactions == [["solo"]]


def test_turns_run_one_holder_per_key_and_forget_idle_keys() -> None:
    turns = Turns()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    guard = threading.Lock()

    def work(key: str) -> None:
        with turns.turn(key):
            with guard:
                inside[key] += 1
                most[key] = max(most[key], inside[key])
            time.sleep(0.002)
            with guard:
                inside[key] -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, ["a", "b"] * 20))
    assert most == {"a": 1, "b": 1}
    assert turns._held == {}


def test_an_exception_inside_a_turn_releases_it() -> None:
    turns = Turns()
    with pytest.raises(RuntimeError), turns.turn("k"):
        raise RuntimeError("boom")
    with turns.turn("k"):
        pass
