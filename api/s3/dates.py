"""The date forms S3 speaks: HTTP dates in headers, ISO 8601 with milliseconds in XML."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


def http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso).astimezone(UTC), usegmt=True)


def iso_z(iso: str) -> str:
    """S3's listing timestamp form: 2013-09-17T18:07:53.000Z."""
    if iso.endswith("+00:00"):  # what strata stores: sliced, as a listing has a thousand
        if len(iso) == 32:
            return iso[:23] + "Z"
        if len(iso) == 25:
            return iso[:19] + ".000Z"
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
