"""Lifecycle rules, as S3 defines them, and when each one is due: pure functions.

A lifecycle "day" is `day_seconds` long (86,400 unless a test or a demo shortens it);
days count from a version's last-modified time (or, for a noncurrent version, from
when a newer version replaced it) and the result is rounded up to the next day
boundary, as S3 rounds to the next midnight UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from domain.errors import MalformedLifecycle
from domain.tags import MAX_OBJECT_TAGS, check_tags

MAX_RULES = 1000
MAX_RULE_ID = 255
MAX_PREFIX = 1024
MAX_DAYS = 36500 * 10
MAX_NEWER_NONCURRENT = 100
DAY_SECONDS = 86400


class LifecycleRule(TypedDict):
    id: str
    enabled: bool
    prefix: str
    tags: dict[str, str]  # every one must be on the version
    size_greater: NotRequired[int]  # ObjectSizeGreaterThan
    size_less: NotRequired[int]  # ObjectSizeLessThan
    expiration_days: NotRequired[int]
    expiration_date: NotRequired[str]  # RFC 3339, midnight UTC
    expired_marker: NotRequired[bool]  # ExpiredObjectDeleteMarker
    noncurrent_days: NotRequired[int]
    newer_noncurrent: NotRequired[int]  # NewerNoncurrentVersions
    abort_days: NotRequired[int]  # AbortIncompleteMultipartUpload DaysAfterInitiation


def _whole(rule: LifecycleRule, name: str, low: int, high: int, what: str) -> None:
    value = rule.get(name)
    if value is not None and not (isinstance(value, int) and low <= value <= high):
        raise MalformedLifecycle(f"'{what}' in rule {rule['id']!r} must be a whole number "
                                 f"from {low} to {high}", rule=rule["id"])


def check_rules(rules: list[LifecycleRule]) -> list[LifecycleRule]:
    """S3's validation of a lifecycle configuration."""
    if not 1 <= len(rules) <= MAX_RULES:
        raise MalformedLifecycle(f"A lifecycle configuration has 1 to {MAX_RULES} rules")
    seen: set[str] = set()
    for rule in rules:
        rule_id = rule["id"]
        if not 1 <= len(rule_id) <= MAX_RULE_ID:
            raise MalformedLifecycle(f"ID length should not exceed allowed limit of "
                                     f"{MAX_RULE_ID}")
        if not rule_id.isprintable() or '"' in rule_id:
            raise MalformedLifecycle("A rule's ID is printable characters other than '\"'")
        if rule_id in seen:
            raise MalformedLifecycle("Rule ID must be unique. Found same ID for more than "
                                     "one rule", rule=rule_id)
        seen.add(rule_id)
        if len(rule["prefix"]) > MAX_PREFIX:
            raise MalformedLifecycle(f"A rule's prefix is at most {MAX_PREFIX} characters",
                                     rule=rule_id)
        check_tags(rule["tags"], MAX_OBJECT_TAGS)
        _whole(rule, "expiration_days", 1, MAX_DAYS, "Days")
        _whole(rule, "noncurrent_days", 1, MAX_DAYS, "NoncurrentDays")
        _whole(rule, "newer_noncurrent", 1, MAX_NEWER_NONCURRENT, "NewerNoncurrentVersions")
        _whole(rule, "abort_days", 1, MAX_DAYS, "DaysAfterInitiation")
        _whole(rule, "size_greater", 0, 2**63, "ObjectSizeGreaterThan")
        _whole(rule, "size_less", 1, 2**63, "ObjectSizeLessThan")
        if "size_greater" in rule and "size_less" in rule \
                and rule["size_greater"] >= rule["size_less"]:
            raise MalformedLifecycle("ObjectSizeGreaterThan must be less than "
                                     "ObjectSizeLessThan", rule=rule_id)
        expirations = sum(name in rule for name in
                          ("expiration_days", "expiration_date", "expired_marker"))
        if expirations > 1:
            raise MalformedLifecycle("An Expiration names one of Days, Date and "
                                     "ExpiredObjectDeleteMarker", rule=rule_id)
        if "expiration_date" in rule:
            moment = datetime.fromisoformat(rule["expiration_date"])
            if moment.tzinfo is None or moment.astimezone(UTC).time() != datetime.min.time():
                raise MalformedLifecycle("'Date' must be at midnight GMT", rule=rule_id)
        if "newer_noncurrent" in rule and "noncurrent_days" not in rule:
            raise MalformedLifecycle("NewerNoncurrentVersions needs NoncurrentDays",
                                     rule=rule_id)
        if rule.get("expired_marker") and rule["tags"]:
            raise MalformedLifecycle("ExpiredObjectDeleteMarker cannot be specified with "
                                     "object tags", rule=rule_id)
        if "abort_days" in rule and (rule["tags"] or "size_greater" in rule
                                     or "size_less" in rule):
            raise MalformedLifecycle("AbortIncompleteMultipartUpload cannot be specified "
                                     "with tags or object size filters", rule=rule_id)
        if not any(name in rule for name in ("expiration_days", "expiration_date",
                                             "expired_marker", "noncurrent_days",
                                             "abort_days")):
            raise MalformedLifecycle("At least one action needs to be specified in a rule",
                                     rule=rule_id)
    return rules


def rounded_up(moment: datetime, day_seconds: int) -> datetime:
    """The next day boundary at or after `moment` (midnight UTC for a real day)."""
    seconds = math.ceil(moment.timestamp() / day_seconds) * day_seconds
    return datetime.fromtimestamp(seconds, UTC)


def after_days(start: datetime, days: int, day_seconds: int) -> datetime:
    return rounded_up(datetime.fromtimestamp(start.timestamp() + days * day_seconds, UTC),
                      day_seconds)


def matches(rule: LifecycleRule, key: str, size: int, tags: dict[str, str] | None) -> bool:
    """Whether the rule applies to a version; `tags` None: not known yet (any match)."""
    if not rule["enabled"] or not key.startswith(rule["prefix"]):
        return False
    if "size_greater" in rule and not size > rule["size_greater"]:
        return False
    if "size_less" in rule and not size < rule["size_less"]:
        return False
    return tags is None or all(tags.get(k) == v for k, v in rule["tags"].items())


@dataclass(frozen=True)
class Due:
    at: datetime
    rule_id: str


def current_expiry(rules: list[LifecycleRule], key: str, size: int, tags: dict[str, str] | None,
                   last_modified: datetime, day_seconds: int) -> Due | None:
    """When the current version `key` expires and by which rule (the earliest), or None."""
    found: Due | None = None
    for rule in rules:
        if not matches(rule, key, size, tags):
            continue
        if "expiration_days" in rule:
            at = after_days(last_modified, rule["expiration_days"], day_seconds)
        elif "expiration_date" in rule:
            at = datetime.fromisoformat(rule["expiration_date"])
        else:
            continue
        if found is None or at < found.at:
            found = Due(at, rule["id"])
    return found


def noncurrent_expiry(rules: list[LifecycleRule], key: str, size: int,
                      tags: dict[str, str] | None,
                      noncurrent_since: datetime, newer_noncurrent: int,
                      day_seconds: int) -> Due | None:
    """When a noncurrent version expires: `noncurrent_since` is when a newer version
    replaced it, `newer_noncurrent` how many noncurrent versions are newer than it."""
    found: Due | None = None
    for rule in rules:
        if "noncurrent_days" not in rule or not matches(rule, key, size, tags):
            continue
        if newer_noncurrent < rule.get("newer_noncurrent", 0):
            continue  # one of the newest noncurrent versions the rule keeps
        at = after_days(noncurrent_since, rule["noncurrent_days"], day_seconds)
        if found is None or at < found.at:
            found = Due(at, rule["id"])
    return found


def marker_expiry(rules: list[LifecycleRule], key: str) -> str | None:
    """The rule that removes `key`'s delete marker once it is the key's only version (an
    "expired object delete marker"): one with ExpiredObjectDeleteMarker, or, as in S3,
    one that expires current versions (Days or Date). Markers have no tags or size, so
    rules filtering by them do not apply."""
    return next((r["id"] for r in rules
                 if (r.get("expired_marker") or "expiration_days" in r
                     or "expiration_date" in r) and matches(r, key, 0, {})), None)


def upload_expiry(rules: list[LifecycleRule], key: str, initiated: datetime,
                  day_seconds: int) -> Due | None:
    found: Due | None = None
    for rule in rules:
        if "abort_days" not in rule or not rule["enabled"] or \
                not key.startswith(rule["prefix"]):
            continue
        at = after_days(initiated, rule["abort_days"], day_seconds)
        if found is None or at < found.at:
            found = Due(at, rule["id"])
    return found
