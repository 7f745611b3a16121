"""The cell directory (architecture decision 25): each bucket name in one cell for good,
the same answer for every process racing to place it, new cells filled first."""

from __future__ import annotations

import threading
from collections import Counter

import psycopg
import pytest

from infra.eventstore.directory import CellDirectory, check_cell_identities
from infra.settings import SettingsError

pytestmark = pytest.mark.postgres


def test_names_go_to_the_cell_with_the_fewest_and_stay_there(postgres_cells: list[str]) -> None:
    directory = CellDirectory(postgres_cells[0], 3)
    placed = [directory.place(f"bucket-{n}") for n in range(6)]
    assert placed == [0, 1, 2, 0, 1, 2]
    assert directory.place("bucket-4") == 1  # placed already: the same cell
    again = CellDirectory(postgres_cells[0], 3)  # another process, nothing cached
    assert [again.cell_of(f"bucket-{n}") for n in range(6)] == placed
    assert again.cell_of("never-made") is None


def test_processes_racing_to_place_the_same_names_agree(postgres_cells: list[str]) -> None:
    names = [f"race-{n}" for n in range(25)]
    answers: list[dict[str, int]] = []
    start = threading.Barrier(6)

    def one_process() -> None:
        directory = CellDirectory(postgres_cells[0], 3)  # its own connections and cache
        start.wait()
        answers.append({name: directory.place(name) for name in names})

    racers = [threading.Thread(target=one_process) for _ in range(6)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    assert len(answers) == 6 and all(a == answers[0] for a in answers)
    with psycopg.connect(postgres_cells[0]) as db:
        rows = db.execute("SELECT count(*) FROM strata_bucket_cells").fetchone()
        loads = dict(db.execute("SELECT cell, names FROM strata_cell_loads").fetchall())
    assert rows == (25,)
    # each name counted once, in the cell it got, whoever placed it
    assert {cell: n for cell, n in loads.items() if n} == dict(Counter(answers[0].values()))


def test_a_cell_added_later_takes_new_names_first(postgres_cells: list[str]) -> None:
    two = CellDirectory(postgres_cells[0], 2)
    assert [two.place(f"old-{n}") for n in range(4)] == [0, 1, 0, 1]
    three = CellDirectory(postgres_cells[0], 3)
    assert [three.place(f"new-{n}") for n in range(3)] == [2, 2, 0]
    assert three.cell_of("old-1") == 1


def test_a_cell_that_holds_buckets_cannot_be_dropped(postgres_cells: list[str]) -> None:
    three = CellDirectory(postgres_cells[0], 3)
    for n in range(3):
        three.place(f"b-{n}")
    with pytest.raises(SettingsError, match="never removed"):
        CellDirectory(postgres_cells[0], 2)


def test_a_name_too_long_for_any_bucket_is_refused_before_anything_is_stored(
        postgres_cells: list[str]) -> None:
    directory = CellDirectory(postgres_cells[0], 3)
    with pytest.raises(ValueError):
        directory.place("x" * 10_000)
    with psycopg.connect(postgres_cells[0]) as db:
        assert db.execute("SELECT count(*) FROM strata_bucket_cells").fetchone() == (0,)


def test_cells_given_in_another_order_are_refused(postgres_cells: list[str]) -> None:
    check_cell_identities(tuple(postgres_cells[:2]))
    check_cell_identities(tuple(postgres_cells))  # one appended: fine
    check_cell_identities(tuple(postgres_cells))  # and again
    with pytest.raises(SettingsError, match="is cell 1 but stands at place 0"):
        check_cell_identities((postgres_cells[1], postgres_cells[0], postgres_cells[2]))
