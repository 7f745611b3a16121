"""Tags: small key-value sets on object versions and buckets, with S3's limits."""

from __future__ import annotations

import unicodedata

from domain.errors import InvalidTag, TooManyTags

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
_PUNCTUATION = frozenset("_.:/=+-@")


def _allowed(text: str) -> bool:
    """S3's tag alphabet: Unicode letters, digits and spaces, and _ . : / = + - @."""
    return all(
        ch in _PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N", "Z") for ch in text
    )


def check_tags(tags: dict[str, str], most: int) -> dict[str, str]:
    """`tags` if S3 would accept them as a tag set of at most `most` tags."""
    if len(tags) > most:
        what = "Object" if most == MAX_OBJECT_TAGS else "Bucket"
        raise TooManyTags(f"{what} tags cannot be greater than {most}", tags=len(tags))
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise InvalidTag(f"A tag key is 1 to {MAX_TAG_KEY} characters", key=key[:MAX_TAG_KEY])
        if len(value) > MAX_TAG_VALUE:
            raise InvalidTag(f"A tag value is at most {MAX_TAG_VALUE} characters",
                             key=key[:MAX_TAG_KEY])
        if not _allowed(key) or not _allowed(value):
            raise InvalidTag("The TagValue you have provided is invalid" if _allowed(key)
                             else "The TagKey you have provided is invalid",
                             key=key[:MAX_TAG_KEY])
        if key.lower().startswith("aws:"):
            raise InvalidTag("Your TagKey cannot be prefixed with aws:", key=key[:MAX_TAG_KEY])
    return dict(tags)


def tag_set(pairs: list[tuple[str, str]], most: int) -> dict[str, str]:
    """A tag set from (key, value) pairs as a request lists them: keys unique."""
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise InvalidTag("Cannot provide multiple Tags with the same key",
                             key=key[:MAX_TAG_KEY])
        tags[key] = value
    return check_tags(tags, most)
