"""Blocking calls (store, blobs, fsync) run in the event loop's executor, never on the loop.

The loop's default executor (sized by the server) is a plain thread pool: a hop costs
about half of what anyio's worker-thread machinery costs, and every request makes one.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
_DONE = object()


async def blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def iterate_blocking(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Each item of a blocking iterator, fetched in the executor."""
    while True:
        item = await blocking(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item  # type: ignore[misc]
