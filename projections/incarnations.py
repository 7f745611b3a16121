"""Bucket incarnations: where in the log the current life of each bucket name began.

  I/<bucket>   the log position of the bucket's latest Created or Recreated event

A bucket name can be deleted and created again, by another user. Every read of the
past (as-of reads and listings, history, inventory, restore, the event stream) is
bounded by this position, so a new owner never sees what an earlier one stored.
The record outlives a deletion: a deleted bucket answers NoSuchBucket before any read
of its past is tried, and the next creation overwrites it.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.buckets import Bucket
from projections.base import ViewReader, ViewTransaction


def _key(bucket: str) -> bytes:
    return b"I/" + bucket.encode()


class IncarnationsProjection:
    name = "incarnations"
    prefixes: tuple[bytes, ...] = (b"I/",)
    ranged: tuple[bytes, ...] = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: Bucket.Created, position: int, tx: ViewTransaction) -> None:
        tx.put(_key(event.name), b"%d" % position)

    @process.register
    def _(self, event: Bucket.Recreated, position: int, tx: ViewTransaction) -> None:
        tx.put(_key(event.name), b"%d" % position)


def incarnation_start(views: ViewReader, bucket: str) -> int:
    """The first log position of the bucket's current incarnation (0: never created)."""
    raw = views.get(_key(bucket))
    return int(raw) if raw else 0
