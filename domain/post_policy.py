"""S3's POST policy for browser form uploads (issue 24): a base64 JSON document with an
expiration and conditions every form field must meet. Pure functions."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from domain.errors import AccessDenied, InvalidArgument

MAX_POLICY_CHARS = 64 * 1024
# Form fields no condition needs to name (AWS's list), and prefixes likewise.
EXEMPT_FIELDS = frozenset(("file", "policy", "x-amz-signature", "signature",
                           "awsaccesskeyid"))
EXEMPT_PREFIXES = ("x-ignore-",)


@dataclass(frozen=True)
class Condition:
    kind: str  # "eq", "starts-with"
    field: str  # lower case, without "$"
    value: str


@dataclass(frozen=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Condition, ...]
    length_range: tuple[int, int] | None  # content-length-range, inclusive


def _refused(reason: str) -> AccessDenied:
    return AccessDenied(f"Invalid according to Policy: {reason}")


def parse_post_policy(encoded: str) -> PostPolicy:
    """The policy a form carries (base64 of JSON); AccessDenied or InvalidArgument with
    the reason when it cannot be read."""
    if len(encoded) > MAX_POLICY_CHARS:
        raise InvalidArgument(f"A POST policy is at most {MAX_POLICY_CHARS} characters")
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidArgument("Invalid Policy: the policy is not base64-encoded JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("expiration"), str):
        raise InvalidArgument("Invalid Policy: Policy missing expiration.")
    try:
        expiration = datetime.fromisoformat(document["expiration"].replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument("Invalid Policy: Invalid 'expiration' value") from None
    if expiration.tzinfo is None:
        raise InvalidArgument("Invalid Policy: 'expiration' needs a time zone (Z)")
    raw = document.get("conditions")
    if not isinstance(raw, list) or len(raw) > 1000:
        raise InvalidArgument("Invalid Policy: Policy missing conditions.")
    conditions: list[Condition] = []
    length_range: tuple[int, int] | None = None
    for item in raw:
        if isinstance(item, dict) and len(item) == 1:
            (field, value), = item.items()
            if not isinstance(value, str):
                raise InvalidArgument(f"Invalid Policy: the condition on {field[:64]} needs a "
                                      "string")
            conditions.append(Condition("eq", field.lower().lstrip("$"), value))
        elif isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            operator = item[0].lower()
            if operator == "content-length-range":
                low, high = item[1], item[2]
                if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                           for v in (low, high)) or low > high:
                    raise InvalidArgument("Invalid Policy: content-length-range takes two "
                                          "whole numbers, the lower first")
                length_range = (low, high)
            elif operator in ("eq", "starts-with") and isinstance(item[1], str) \
                    and item[1].startswith("$") and isinstance(item[2], str):
                conditions.append(Condition(operator, item[1][1:].lower(), item[2]))
            else:
                raise InvalidArgument(f"Invalid Policy: Invalid Condition: {str(item)[:128]}")
        else:
            raise InvalidArgument(f"Invalid Policy: Invalid Condition: {str(item)[:128]}")
    return PostPolicy(expiration, tuple(conditions), length_range)


def check_form(policy: PostPolicy, fields: dict[str, str], now: datetime) -> None:
    """AccessDenied unless the policy is in force and every field meets it: each
    condition holds, and each field (but the exempt ones) is named by a condition.
    `fields`: lower-case names, with "bucket" and the key after ${filename}."""
    if now >= policy.expiration:
        raise _refused("Policy expired.")
    named = {c.field for c in policy.conditions}
    for condition in policy.conditions:
        value = fields.get(condition.field)
        if value is None:
            raise _refused(f'Policy Condition failed: ["{condition.kind}", '
                           f'"${condition.field[:64]}", "{condition.value[:64]}"]')
        ok = value == condition.value if condition.kind == "eq" \
            else value.startswith(condition.value)
        if not ok:
            raise _refused(f'Policy Condition failed: ["{condition.kind}", '
                           f'"${condition.field[:64]}", "{condition.value[:64]}"]')
    for name in fields:
        if name in EXEMPT_FIELDS or name.startswith(EXEMPT_PREFIXES) or name == "bucket":
            continue
        if name not in named:
            raise _refused(f"Extra input fields: {name[:64]}")
