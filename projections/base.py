"""View-store port, the per-batch transaction, and the Projection protocol.

A projection turns events into view writes. The runner applies a batch of events to
a ViewTransaction and commits its writes together with each projection's tracking
position in one atomic write, so a crash never double-applies or skips an event.
"""

from __future__ import annotations

import bisect
import inspect
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import singledispatchmethod
from typing import Any, Protocol, TypeVar, cast

TRACKING_PREFIX = b"\x00tracking/"
T = TypeVar("T")


def tracking_key(name: str) -> bytes:
    return TRACKING_PREFIX + name.encode()


class ViewReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries with start <= key < stop, in ascending byte order."""
        ...


class Seeker(Protocol):
    """One reusable position in a view: cheaper than a scan per lookup where a query
    jumps around (the time index seeks once or twice per key)."""

    def seek(self, key: bytes, stop: bytes) -> tuple[bytes, bytes] | None:
        """The first entry with key <= entry < stop, if any."""
        ...

    def next(self, stop: bytes) -> tuple[bytes, bytes] | None:
        """The entry after the last one returned, if it is below `stop`."""
        ...


class ScanSeeker:
    """A Seeker over any ViewReader, one scan per seek."""

    def __init__(self, reader: ViewReader) -> None:
        self._reader = reader
        self._rest: Iterator[tuple[bytes, bytes]] = iter(())

    def seek(self, key: bytes, stop: bytes) -> tuple[bytes, bytes] | None:
        self._rest = self._reader.scan(key, stop)
        return next(self._rest, None)

    def next(self, stop: bytes) -> tuple[bytes, bytes] | None:
        found = next(self._rest, None)
        return found if found is not None and found[0] < stop else None


def seeker(reader: ViewReader) -> Seeker:
    """The reader's own Seeker where it has one."""
    make = getattr(reader, "seeker", None)
    return make() if make is not None else ScanSeeker(reader)


class ViewStore(ViewReader, Protocol):
    """Where views live; one process owns it."""

    def position(self, name: str) -> int: ...

    def commit(self, writes: Mapping[bytes, bytes | None], positions: Mapping[str, int]) -> None:
        """Apply `writes` (None deletes) and set `positions`, all or nothing."""
        ...

    def drop(self, prefixes: Iterable[bytes], names: Iterable[str]) -> None:
        """Delete every key under `prefixes` and the tracking positions of `names`."""
        ...


class ViewTransaction:
    """Writes of one batch, readable before they are committed."""

    def __init__(self, reader: ViewReader, ranged: tuple[bytes, ...] | None = None) -> None:
        """`ranged`: the only key prefixes this batch will scan (None: any). Keeping just
        those keys in order saves most of a batch's cost: the order is kept by insertion."""
        self._reader = reader
        self.writes: dict[bytes, bytes | None] = {}
        self._ranged = ranged
        self._sorted: list[bytes] = []  # the keys of `writes` under `ranged`, for scans
        self._decoded: dict[bytes, tuple[Any, Callable[[Any], bytes]]] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            if key in self._decoded:
                value, dump = self._decoded[key]
                return dump(value)
            return self.writes[key]
        return self._reader.get(key)

    def decoded(self, key: bytes, load: Callable[[bytes | None], T],
                dump: Callable[[T], bytes]) -> T:
        """The value at `key`, decoded by `load` once a batch and kept decoded: change
        it in place, and it is encoded by `dump` once, when the batch is committed (a
        bucket's counts change with every PUT of a batch). A key kept decoded is
        written only through this in its batch: `finish` overwrites any put of it."""
        if key in self._decoded:
            return cast(T, self._decoded[key][0])
        value = load(self.get(key))
        self.put(key, b"")  # encoded by `finish`
        self._decoded[key] = (value, dump)
        return value

    def finish(self) -> dict[bytes, bytes | None]:
        """The batch's writes, ready to commit."""
        for key, (value, dump) in self._decoded.items():
            self.writes[key] = dump(value)
        self._decoded.clear()
        return self.writes

    def put(self, key: bytes, value: bytes | None) -> None:
        """Write `value` at `key`; None deletes it."""
        # The hottest call of a rebuild: written out here rather than through a helper.
        if key not in self.writes and (self._ranged is None or key.startswith(self._ranged)):
            bisect.insort(self._sorted, key)
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The committed entries merged with this batch's pending writes."""
        if self._ranged is not None and not start.startswith(self._ranged):
            raise ValueError(f"a scan from {start[:16]!r} is outside the declared ranged "
                             f"prefixes {self._ranged}: declare it in the projection")
        lo = bisect.bisect_left(self._sorted, start)
        hi = bisect.bisect_left(self._sorted, stop)
        pending = {k: self.get(k) for k in self._sorted[lo:hi]}
        merged = {k: v for k, v in self._reader.scan(start, stop) if k not in pending}
        merged.update({k: v for k, v in pending.items() if v is not None})
        for key in sorted(merged):
            yield key, merged[key]

    def first(self, start: bytes, stop: bytes) -> tuple[bytes, bytes] | None:
        return next(self.scan(start, stop), None)


class Projection(Protocol):
    """A function from events to view writes, with a name for its tracking position.
    Written as a singledispatchmethod, its generic case must change nothing: the runner
    skips events a projection has no handler for."""

    name: str
    prefixes: tuple[bytes, ...]
    ranged: tuple[bytes, ...]  # the prefixes `process` scans within a batch (tx.scan/first)

    def process(self, event: Any, position: int, tx: ViewTransaction) -> None: ...


def bound_handler(projection: Projection, event_type: type) -> Callable[..., None] | None:
    """`projection.process` for events of `event_type`, resolved once; None when a
    singledispatchmethod `process` has no handler registered for it (its generic case
    must change nothing). On Python 3.11 a singledispatchmethod rebuilds its wrapper on
    every call, which costs more than most handlers do."""
    method = inspect.getattr_static(type(projection), "process")
    if not isinstance(method, singledispatchmethod):
        return projection.process
    handler = method.dispatcher.dispatch(event_type)
    if handler is method.dispatcher.dispatch(object):
        return None
    return types.MethodType(handler, projection)


class InMemoryViewStore:
    """ViewStore for tests and tools: a sorted in-memory map."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        with self._lock:
            lo = bisect.bisect_left(self._keys, start)
            hi = bisect.bisect_left(self._keys, stop)
            items = [(k, self._data[k]) for k in self._keys[lo:hi]]
        yield from items

    def position(self, name: str) -> int:
        raw = self._data.get(tracking_key(name))
        return int(raw) if raw else 0

    def commit(self, writes: Mapping[bytes, bytes | None], positions: Mapping[str, int]) -> None:
        with self._lock:
            all_writes = dict(writes)
            all_writes.update({tracking_key(n): str(p).encode() for n, p in positions.items()})
            for key, value in all_writes.items():
                if value is None:
                    if self._data.pop(key, None) is not None:
                        self._keys.remove(key)
                else:
                    if key not in self._data:
                        bisect.insort(self._keys, key)
                    self._data[key] = value

    def drop(self, prefixes: Iterable[bytes], names: Iterable[str]) -> None:
        doomed = {tracking_key(n) for n in names}
        for prefix in prefixes:
            doomed |= {k for k, _ in self.scan(prefix, prefix_end(prefix))}
        self.commit(dict.fromkeys(doomed), {})

    def items(self) -> list[tuple[bytes, bytes]]:
        return list(self.scan(b"", b"\xff" * 8))


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key that starts with `prefix`."""
    return prefix + b"\xff" * 8
