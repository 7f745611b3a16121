"""Pure rules of issue 23: object lock decisions, lifecycle timing and matching, tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidRetention, InvalidTag, ObjectLocked, TooManyTags
from domain.geo import change_of, check_change
from domain.lifecycle import (
    after_days,
    current_expiry,
    marker_expiry,
    noncurrent_expiry,
    rounded_up,
)
from domain.lock import check_retention_change, removal_refused
from domain.objects import ObjectKey
from domain.tags import MAX_OBJECT_TAGS, check_tags, tag_set
from tests.conftest import META, version

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def _locked(mode: str | None = None, days: float = 1, hold: bool = False) -> dict:
    found = dict(version("v1"))
    if mode is not None:
        found["retention"] = {"mode": mode, "until": (NOW + timedelta(days=days)).isoformat()}
    if hold:
        found["legal_hold"] = True
    return found


@pytest.mark.parametrize(("mode", "hold", "bypass", "refused"), [
    (None, False, False, False),
    ("GOVERNANCE", False, False, True),
    ("GOVERNANCE", False, True, False),
    ("COMPLIANCE", False, False, True),
    ("COMPLIANCE", False, True, True),
    (None, True, True, True),
    ("GOVERNANCE", True, True, True),
])
def test_who_may_remove_a_locked_version(mode: str | None, hold: bool, bypass: bool,
                                         refused: bool) -> None:
    assert (removal_refused(_locked(mode, hold=hold), NOW, bypass) is not None) == refused  # type: ignore[arg-type]


def test_expired_retention_no_longer_protects() -> None:
    assert removal_refused(_locked("COMPLIANCE", days=-1), NOW, False) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("old", "new_mode", "new_days", "bypass", "allowed"), [
    ("COMPLIANCE", "COMPLIANCE", 2, False, True),  # extending: always
    ("COMPLIANCE", "COMPLIANCE", 0.5, True, False),  # shortening: never
    ("COMPLIANCE", "GOVERNANCE", 2, True, False),  # weakening: never
    ("COMPLIANCE", None, 0, True, False),  # removing: never
    ("GOVERNANCE", "COMPLIANCE", 2, False, True),  # strengthening: always
    ("GOVERNANCE", "GOVERNANCE", 0.5, False, False),
    ("GOVERNANCE", "GOVERNANCE", 0.5, True, True),
    ("GOVERNANCE", None, 0, True, True),
])
def test_retention_changes(old: str, new_mode: str | None, new_days: float, bypass: bool,
                           allowed: bool) -> None:
    new = None if new_mode is None else {
        "mode": new_mode, "until": (NOW + timedelta(days=new_days)).isoformat()}
    if allowed:
        check_retention_change(_locked(old), new, NOW, bypass)  # type: ignore[arg-type]
    else:
        with pytest.raises(ObjectLocked):
            check_retention_change(_locked(old), new, NOW, bypass)  # type: ignore[arg-type]


def test_a_retention_ending_in_the_past_is_refused() -> None:
    with pytest.raises(InvalidRetention):
        check_retention_change(_locked(), {"mode": "GOVERNANCE",  # type: ignore[arg-type]
                                           "until": (NOW - timedelta(1)).isoformat()}, NOW,
                               False)


def test_a_replicated_removal_of_a_locked_version_changes_nothing() -> None:
    obj = ObjectKey.create("b", "k", NOW)
    obj.put_version(_locked("COMPLIANCE"), "Enabled", META, NOW)  # type: ignore[arg-type]
    change = check_change({"kind": "remove", "key": "k", "version_id": "v1",
                           "time": NOW.isoformat(), "meta": dict(META),
                           "origin_site": "east", "origin_position": 5})
    assert obj.apply_replicated(change, META, NOW) is False
    assert [v["version_id"] for v in obj.versions] == ["v1"]


def test_tags_travel_to_other_sites_checked() -> None:
    obj = ObjectKey.create("b", "k", NOW)
    obj.put_version(version("v1"), "Enabled", META, NOW)
    obj.set_tags("v1", {"team": "blue"}, META, NOW)
    event = obj.collect_events()[-1]
    change = change_of(event, 9, "here")
    assert change is not None and change["kind"] == "tags" and change["tags"] == {
        "team": "blue"}
    with pytest.raises(InvalidTag):
        check_change({**change, "tags": {"aws:no": "x"}})


def test_s3_rounds_expiry_up_to_the_next_day_boundary() -> None:
    assert after_days(NOW, 1, 86400) == datetime(2026, 12, 9, tzinfo=UTC)
    midnight = datetime(2026, 12, 7, tzinfo=UTC)
    assert after_days(midnight, 1, 86400) == datetime(2026, 12, 8, tzinfo=UTC)
    assert rounded_up(datetime(2026, 12, 7, 0, 0, 1, tzinfo=UTC), 10) == datetime(
        2026, 12, 7, 0, 0, 10, tzinfo=UTC)


def _rule(**fields: object) -> dict:
    return {"id": "r", "enabled": True, "prefix": "", "tags": {}, **fields}


def test_which_rule_expires_a_version_and_when() -> None:
    rules = [_rule(id="late", expiration_days=30), _rule(id="soon", prefix="tmp/",
                                                         expiration_days=1),
             _rule(id="tagged", tags={"t": "1"}, expiration_days=0 + 2),
             _rule(id="off", enabled=False, expiration_days=0 + 1)]
    found = current_expiry(rules, "tmp/a", 1, {}, NOW, 86400)  # type: ignore[arg-type]
    assert found is not None and found.rule_id == "soon"
    found = current_expiry(rules, "a", 1, {"t": "1"}, NOW, 86400)  # type: ignore[arg-type]
    assert found is not None and found.rule_id == "tagged"
    found = current_expiry(rules, "a", 1, {}, NOW, 86400)  # type: ignore[arg-type]
    assert found is not None and found.rule_id == "late"
    sized = [_rule(size_greater=10, size_less=20, expiration_days=1)]
    assert current_expiry(sized, "a", 10, {}, NOW, 86400) is None  # type: ignore[arg-type]
    assert current_expiry(sized, "a", 15, {}, NOW, 86400) is not None  # type: ignore[arg-type]


def test_newer_noncurrent_versions_are_kept() -> None:
    rules = [_rule(noncurrent_days=1, newer_noncurrent=2)]
    assert noncurrent_expiry(rules, "a", 1, {}, NOW, 1, 86400) is None  # type: ignore[arg-type]
    assert noncurrent_expiry(rules, "a", 1, {}, NOW, 2, 86400) is not None  # type: ignore[arg-type]
    assert marker_expiry([_rule(expired_marker=True)], "a") == "r"  # type: ignore[list-item]
    # a rule that expires current versions also clears expired delete markers (as S3)
    assert marker_expiry([_rule(id="days", expiration_days=3)], "a") == "days"  # type: ignore[list-item]
    assert marker_expiry([_rule(tags={"t": "1"}, expiration_days=3)], "a") is None  # type: ignore[list-item]
    assert marker_expiry([_rule(noncurrent_days=3)], "a") is None  # type: ignore[list-item]


def test_tag_sets_follow_s3s_rules() -> None:
    assert check_tags({"a b": "c+d=e/f:g@h_i.j-k"}, MAX_OBJECT_TAGS)
    with pytest.raises(TooManyTags):
        check_tags({str(i): "" for i in range(11)}, MAX_OBJECT_TAGS)
    with pytest.raises(InvalidTag):
        tag_set([("a", "1"), ("a", "2")], MAX_OBJECT_TAGS)
    with pytest.raises(InvalidTag):
        check_tags({"": "empty key"}, MAX_OBJECT_TAGS)
