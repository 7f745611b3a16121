"""S3 naming rules for buckets and object keys."""

from __future__ import annotations

import re

from domain.errors import InvalidArgument, InvalidBucketName, InvalidObjectKey, KeyTooLong

MAX_KEY_BYTES = 1024
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def validate_bucket_name(name: str) -> None:
    """Raise InvalidBucketName unless `name` follows S3's general-purpose bucket rules."""
    reason = _bucket_name_problem(name)
    if reason:
        raise InvalidBucketName(f"The specified bucket is not valid: {reason}", bucket=name)


def _bucket_name_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return "a bucket name is 3 to 63 characters long"
    if not _BUCKET_CHARS.match(name):
        return (
            "use lowercase letters, digits, dots and hyphens, "
            "beginning and ending with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "dots may not be adjacent to each other or to hyphens"
    if _IPV4.match(name):
        return "a bucket name may not look like an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "that prefix or suffix is reserved"
    return None


def validate_object_key(key: str) -> None:
    """Raise InvalidObjectKey for an empty key, one over 1024 UTF-8 bytes, or one with NUL."""
    if not key:
        raise InvalidObjectKey("An object key may not be empty", key=key)
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidObjectKey("An object key must be valid UTF-8", key=key) from None
    if size > MAX_KEY_BYTES:
        raise KeyTooLong(
            f"Your key is too long: {size} bytes, at most {MAX_KEY_BYTES}", key=key[:64]
        )
    # NUL sorts below every other byte and separates key from version in the views.
    if "\x00" in key:
        raise InvalidObjectKey("An object key may not contain the NUL character", key=key)


def validate_prefix(prefix: str) -> None:
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidArgument("The prefix is longer than 1024 bytes", prefix=prefix[:64])
