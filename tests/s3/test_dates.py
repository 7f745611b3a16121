"""The date forms S3 speaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from api.s3.dates import http_date, iso_z, parse_http_date


@pytest.mark.parametrize("moment", [
    datetime(2026, 12, 3, 15, 4, 5, 123456, tzinfo=UTC),
    datetime(2024, 2, 29, 0, 0, 0, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2030, 1, 6, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
])
def test_http_dates_are_the_imf_fixdate_email_utils_writes(moment: datetime) -> None:
    expected = format_datetime(moment.astimezone(UTC), usegmt=True)
    assert http_date(moment.isoformat()) == expected
    assert parse_http_date(expected) == moment.replace(microsecond=0)


def test_a_missing_or_bad_http_date_is_none() -> None:
    assert parse_http_date("") is None
    assert parse_http_date("yesterday") is None


def test_listing_times_have_milliseconds_and_a_z() -> None:
    assert iso_z("2026-12-03T15:04:05.123456+00:00") == "2026-12-03T15:04:05.123Z"
    assert iso_z("2026-12-03T15:04:05+00:00") == "2026-12-03T15:04:05.000Z"
    assert iso_z("2026-12-03T10:04:05.5+05:00") == "2026-12-03T05:04:05.500Z"
