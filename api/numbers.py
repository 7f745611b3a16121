"""Numbers from requests: parsed one way, bounded before any arithmetic.

Python's `str.isdigit` accepts digits of every script (and superscripts `int` refuses),
and `int` refuses more than 4,300 digits: a check-then-convert on a request's text is
a 500 waiting to happen. Every count, length, position and part number a request
brings goes through here.
"""

from __future__ import annotations

MAX_DIGITS = 19  # every quantity a request can mean fits in a signed 64-bit integer
BEYOND = 2**63  # what a longer run of digits stands for: more than anything stored


def whole_number(text: str | None, max_digits: int = MAX_DIGITS) -> int | None:
    """`text` as a non-negative integer when it is 1 to `max_digits` ASCII digits;
    None for anything else (absent, empty, signed, spaced, other scripts, too long)."""
    if text is None or not 0 < len(text) <= max_digits:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def digits_value(text: str) -> int:
    """A run of ASCII digits already matched by a pattern, as a number; runs too long
    to mean anything stand for BEYOND (a range past any object's end)."""
    return int(text) if len(text) <= MAX_DIGITS else BEYOND
