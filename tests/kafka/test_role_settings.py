"""Cluster roles refuse settings they cannot work with, and say what to set."""

from __future__ import annotations

import pytest

from infra.settings import Settings, SettingsError
from tests.nodes.test_local_cluster import _strata


@pytest.mark.parametrize(("command", "env", "says"), [
    (["api"], {}, "STRATA_EVENT_STORE"),
    (["api"], {"STRATA_EVENT_STORE": "postgresql://postgres@127.0.0.1/x"}, "STRATA_BLOBS=nodes"),
    (["worker"], {"STRATA_EVENT_STORE": "postgresql://postgres@127.0.0.1/x",
                  "STRATA_BLOBS": "nodes", "STRATA_CLUSTER_SECRET": "s" * 20}, "STRATA_KAFKA"),
    (["relay"], {}, "STRATA_KAFKA"),
    (["events", "tail", "--kafka"], {}, "STRATA_KAFKA"),
    (["events", "tail", "--kafka", "--from", "7"], {"STRATA_KAFKA": "127.0.0.1:1"},
     "--from takes 0"),
])
def test_a_cluster_role_without_what_it_needs_says_what_to_set(
    command: list[str], env: dict[str, str], says: str, tmp_path: object,
) -> None:
    done = _strata(*command, "--data-dir", str(tmp_path), **env) if command[0] != "events" \
        else _strata(*command, **env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr


def test_flags_take_one_or_zero() -> None:
    assert Settings.from_env({"STRATA_KAFKA_ONE_RECORD_PER_BATCH": "1"}).kafka_one_record_per_batch
    assert not Settings.from_env({}).kafka_one_record_per_batch
    with pytest.raises(SettingsError, match="use 1 or 0"):
        Settings.from_env({"STRATA_KAFKA_ONE_RECORD_PER_BATCH": "maybe"})
