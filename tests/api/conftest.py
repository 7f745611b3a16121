"""The native door through Starlette's TestClient, over a real System, as root."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from api.app import create_native_app
from infra.run.system import open_system
from infra.settings import Settings
from tests.conftest import ROOT_AK, ROOT_SK


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[TestClient]:
    system = open_system(sqlite_settings)
    system.start()
    try:
        with TestClient(create_native_app(system)) as c:
            token = c.post("/auth/token", json={"access_key": ROOT_AK, "secret_key": ROOT_SK})
            c.headers["authorization"] = f"Bearer {token.json()['token']}"
            yield c
    finally:
        system.close()
