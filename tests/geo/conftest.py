"""Geo-replication tests share the native door client of tests/api."""

from tests.api.conftest import client  # noqa: F401 - a fixture, used by name
