"""Blocking calls (store, blobs, fsync) run in the event loop's executor, never on the loop.

The loop's default executor (sized by the server) is a plain thread pool: a hop costs
about half of what anyio's worker-thread machinery costs. Even so a hop costs more CPU
than a whole GET answered from memory, so queries try memory first (see `query`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import ParamSpec, TypeVar

from domain.runtime.read_cache import NotInMemory, memory_only

P = ParamSpec("P")
T = TypeVar("T")
_DONE = object()


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def query(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A query (no side effects): answered in place when memory holds all it needs,
    which saves the hop; otherwise run again in a thread, where it may do I/O."""
    try:
        with memory_only():
            return fn(*args, **kwargs)
    except NotInMemory:
        return await blocking(fn, *args, **kwargs)


async def iterate_blocking(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Each item of a blocking iterator, fetched in the executor."""
    while True:
        item = await blocking(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item  # type: ignore[misc]
