"""HTTP Range parsing for single byte ranges, as S3 serves them."""

from __future__ import annotations

import re

from api.numbers import digits_value
from domain.errors import StrataError

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


class RangeNotSatisfiable(StrataError):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The [start, end) to serve, or None for the whole object.

    A header S3 would ignore (malformed, or several ranges) means the whole object;
    a well-formed range that starts past the end is not satisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = digits_value(last)
        if suffix == 0:
            raise RangeNotSatisfiable("The requested range is not satisfiable", size=size)
        return max(0, size - suffix), size
    start = digits_value(first)
    end = size if not last else min(digits_value(last) + 1, size)
    if last and digits_value(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable("The requested range is not satisfiable", size=size)
    return start, end
