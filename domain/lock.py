"""Object lock: write-once retention and legal holds, as pure rules.

A version may carry a retention (a mode and a date until which it may not be removed)
and a legal hold (no end date). GOVERNANCE retention yields to a caller allowed to
bypass it; COMPLIANCE retention yields to nobody, and can only be extended.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict

from domain.errors import InvalidRetention, ObjectLocked, ObjectLockNotEnabled
from domain.records import Retention, Version

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)
MAX_RETENTION_DAYS = 36500  # S3 allows up to 100 years


class LockConfig(TypedDict):
    """A bucket's object lock: always enabled once set; an optional default retention
    given to every new version that names none."""

    mode: str | None
    days: int | None
    years: int | None


def check_lock_config(config: LockConfig) -> LockConfig:
    mode, days, years = config["mode"], config["days"], config["years"]
    if mode is None:
        if days is not None or years is not None:
            raise InvalidRetention("A default retention names its Mode")
        return config
    if mode not in MODES:
        raise InvalidRetention(f"The retention mode is {GOVERNANCE} or {COMPLIANCE}",
                               mode=mode[:32])
    if (days is None) == (years is None):
        raise InvalidRetention("A default retention has either Days or Years")
    length = days if days is not None else (years or 0) * 365
    if not 1 <= length <= MAX_RETENTION_DAYS:
        raise InvalidRetention("Default retention period must be a positive integer value "
                               f"of at most {MAX_RETENTION_DAYS} days")
    return config


def default_retention(config: LockConfig | None, now: datetime) -> Retention | None:
    if config is None or config["mode"] is None:
        return None
    days = config["days"] if config["days"] is not None else (config["years"] or 0) * 365
    return {"mode": config["mode"], "until": (now + timedelta(days=days)).isoformat()}


def check_retention(retention: Retention, now: datetime) -> Retention:
    if retention["mode"] not in MODES:
        raise InvalidRetention(f"The retention mode is {GOVERNANCE} or {COMPLIANCE}",
                               mode=retention["mode"][:32])
    until = datetime.fromisoformat(retention["until"])
    if until <= now:
        raise InvalidRetention("The retain until date must be in the future!")
    if until > now + timedelta(days=MAX_RETENTION_DAYS):
        raise InvalidRetention(f"A retention ends within {MAX_RETENTION_DAYS} days")
    return retention


def locked_new_version(version: Version, config: LockConfig | None, now: datetime) -> Version:
    """`version` as a bucket with lock `config` stores it: its own retention checked, or
    the bucket's default retention; lock settings refused where the bucket has no lock."""
    asks = "retention" in version or version.get("legal_hold", False)
    if config is None:
        if asks:
            raise ObjectLockNotEnabled("Bucket is missing Object Lock Configuration")
        return version
    if "retention" in version:
        check_retention(version["retention"], now)
        return version
    retention = default_retention(config, now)
    return version if retention is None else {**version, "retention": retention}


def active_retention(version: Version, now: datetime) -> Retention | None:
    retention = version.get("retention")
    if retention is None or datetime.fromisoformat(retention["until"]) <= now:
        return None
    return retention


def removal_refused(version: Version, now: datetime, bypass: bool) -> str | None:
    """Why removing `version` now is refused, or None when it may go."""
    if version.get("legal_hold"):
        return "it is under a legal hold"
    retention = active_retention(version, now)
    if retention is None:
        return None
    if retention["mode"] == COMPLIANCE:
        return f"it is under COMPLIANCE retention until {retention['until']}"
    if not bypass:
        return (f"it is under GOVERNANCE retention until {retention['until']} (a user "
                "allowed to may bypass it with x-amz-bypass-governance-retention)")
    return None


def check_removable(version: Version, now: datetime, bypass: bool, **fields: object) -> None:
    reason = removal_refused(version, now, bypass)
    if reason is not None:
        raise ObjectLocked(f"Access Denied because object protected by object lock: {reason}",
                           version_id=version["version_id"], **fields)


def check_retention_change(version: Version, new: Retention | None, now: datetime,
                           bypass: bool) -> None:
    """Extending is always allowed; shortening, removing or weakening active COMPLIANCE
    retention never; doing so to GOVERNANCE retention only with bypass."""
    if new is not None:
        check_retention(new, now)
    old = active_retention(version, now)
    if old is None:
        return
    stronger_or_equal = new is not None and (
        datetime.fromisoformat(new["until"]) >= datetime.fromisoformat(old["until"])
        and (new["mode"] == COMPLIANCE or old["mode"] == GOVERNANCE))
    if stronger_or_equal:
        return
    if old["mode"] == COMPLIANCE:
        raise ObjectLocked("Access Denied because object protected by object lock: "
                           f"COMPLIANCE retention until {old['until']} cannot be shortened "
                           "or removed", version_id=version["version_id"])
    if not bypass:
        raise ObjectLocked("Access Denied because object protected by object lock: "
                           f"GOVERNANCE retention until {old['until']} is shortened or "
                           "removed only with x-amz-bypass-governance-retention",
                           version_id=version["version_id"])
