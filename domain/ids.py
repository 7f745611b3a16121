"""Aggregate ids derived from names, as uuid5 of a path: the same name, the same id."""

from __future__ import annotations

import functools
from uuid import NAMESPACE_URL, UUID, uuid5


@functools.lru_cache(maxsize=8192)
def named_id(path: str) -> UUID:
    """uuid5 hashes with SHA-1 (about 3 µs); a GET derives five ids (bucket, key,
    access key, user), mostly the same ones again: remembered, bounded."""
    return uuid5(NAMESPACE_URL, path)
