"""Ports the domain needs from the outside, implemented in infra/ and projections/."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class BucketGate(Protocol):
    """Orders object writes against a bucket's deletion.

    Object commits hold the bucket's gate shared; deleting the bucket holds it
    exclusively while it checks emptiness and records the deletion, so no write
    can land in a bucket that is being deleted.
    """

    def shared(self, bucket: str) -> AbstractContextManager[None]: ...

    def exclusive(self, bucket: str) -> AbstractContextManager[None]: ...


class BucketContents(Protocol):
    """Answers whether a bucket holds any version or delete marker."""

    def is_empty(self, bucket: str, position: int) -> bool:
        """As of store position `position` (the implementation waits until it has it)."""
        ...
