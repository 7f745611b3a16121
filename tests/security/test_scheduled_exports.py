"""A scheduled inventory writes as the user who scheduled it, with that user's rights
at each run (issue 19, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.access import make_acl
from infra.run.system import open_system
from infra.settings import Settings
from tests.conftest import META


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_each_export_checks_the_scheduling_users_rights_again(settings: Settings) -> None:
    system = open_system(settings)
    system.start()
    try:
        store: Any = system.store
        now = datetime.now(UTC)
        for name in ("alice", "bob"):
            store.create_user(name, name, False, META, now)
        store.create_bucket("bobs-data", "bob", META, now)
        store.create_bucket("alices-reports", "alice", META, now)
        writable = make_acl("alice", [{"grantee": "user:bob", "permission": "WRITE"}])
        store.set_bucket_acl("alices-reports", writable, META, now)
        schedule = {"destination": "alices-reports", "prefix": "inv/", "scheduled_by": "bob"}
        store.configure_inventory("bobs-data", schedule, META, now)
        store.set_bucket_acl("alices-reports", make_acl("alice", []), META, now)
        assert system.inventory_schedule.run_once() == []
        store.set_bucket_acl("alices-reports", writable, META, now)
        made = system.inventory_schedule.run_once()
        assert [destination for destination, _ in made] == ["alices-reports"]
    finally:
        system.close()
