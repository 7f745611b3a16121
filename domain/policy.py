"""Bucket policies: AWS's JSON policy language, parsed once and evaluated as a pure
function of a request's facts (issue 24).

`parse_policy` checks a document as S3 does (MalformedPolicy with the reason) and keeps
it in a form that is quick to evaluate; `evaluate` answers DENY (an explicit Deny
matched), ALLOW (an Allow matched and no Deny did) or None (nothing matched).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from domain.errors import MalformedPolicy

MAX_POLICY_BYTES = 20 * 1024  # S3's limit for a bucket policy
VERSIONS = ("2012-10-17", "2008-10-17")
ALLOW, DENY = "Allow", "Deny"
USER_ARN = re.compile(r"^arn:aws:iam::[0-9]*:user/(.+)$")
BUCKET_ARN = "arn:aws:s3:::"

# The S3 actions strata decides on, as IAM names them.
ACTIONS = frozenset(f"s3:{name}" for name in (
    "AbortMultipartUpload", "BypassGovernanceRetention", "CreateBucket", "DeleteBucket",
    "DeleteBucketPolicy", "DeleteObject", "DeleteObjectTagging", "DeleteObjectVersion",
    "DeleteObjectVersionTagging", "GetBucketAcl", "GetBucketCORS", "GetBucketLocation",
    "GetBucketObjectLockConfiguration", "GetBucketPolicy", "GetBucketPolicyStatus",
    "GetBucketPublicAccessBlock", "GetBucketTagging", "GetBucketVersioning",
    "GetLifecycleConfiguration", "GetObject", "GetObjectAcl", "GetObjectAttributes",
    "GetObjectLegalHold", "GetObjectRetention", "GetObjectTagging", "GetObjectVersion",
    "GetObjectVersionAcl", "GetObjectVersionAttributes", "GetObjectVersionTagging",
    "GetReplicationConfiguration", "ListAllMyBuckets", "ListBucket",
    "ListBucketMultipartUploads", "ListBucketVersions", "ListMultipartUploadParts",
    "PutBucketAcl", "PutBucketCORS", "PutBucketObjectLockConfiguration", "PutBucketPolicy",
    "PutBucketPublicAccessBlock", "PutBucketTagging", "PutBucketVersioning",
    "PutLifecycleConfiguration", "PutObject", "PutObjectAcl", "PutObjectLegalHold",
    "PutObjectRetention", "PutObjectTagging", "PutObjectVersionAcl",
    "PutObjectVersionTagging", "PutReplicationConfiguration",
))
_ACTIONS_LOWER = {a.lower() for a in ACTIONS}

# Condition keys with the kind of value they hold; tag keys are prefixes.
KEYS = {
    "aws:sourceip": "ip", "aws:securetransport": "bool", "aws:currenttime": "date",
    "aws:epochtime": "numeric", "aws:username": "string", "aws:userid": "string",
    "aws:referer": "string", "aws:useragent": "string", "aws:principaltype": "string",
    "s3:prefix": "string", "s3:delimiter": "string", "s3:max-keys": "numeric",
    "s3:x-amz-acl": "string", "s3:x-amz-copy-source": "string",
    "s3:versionid": "string", "s3:object-lock-mode": "string",
    "s3:object-lock-retain-until-date": "date", "s3:object-lock-legal-hold": "string",
    "s3:object-lock-remaining-retention-days": "numeric", "s3:if-none-match": "string",
    "s3:signatureversion": "string", "s3:authtype": "string",
    "s3:x-amz-content-sha256": "string", "s3:requestobjecttagkeys": "string",
}
TAG_KEY_PREFIXES = ("s3:existingobjecttag/", "s3:requestobjecttag/", "aws:requesttag/",
                    "aws:resourcetag/")

_STRING_OPS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
               "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike")
_NUMERIC_OPS = ("NumericEquals", "NumericNotEquals", "NumericLessThan",
                "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals")
_DATE_OPS = ("DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
             "DateGreaterThan", "DateGreaterThanEquals")
_OTHER_OPS = ("Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
              "ArnNotEquals", "ArnLike", "ArnNotLike", "Null")
OPERATORS = frozenset((*_STRING_OPS, *_NUMERIC_OPS, *_DATE_OPS, *_OTHER_OPS))
_NEGATED = frozenset(("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike",
                      "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotEquals",
                      "ArnNotLike"))


@dataclass(frozen=True)
class RequestFacts:
    """What a policy may ask about a request: who, what, on which resource, and the
    condition keys' values (lower-case names; a key may hold several values)."""

    user: str | None  # None: anonymous
    action: str  # "s3:GetObject"
    resource: str  # "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
    values: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    operator: str  # without IfExists and the set prefix
    key: str  # lower case
    values: tuple[str, ...]
    if_exists: bool
    quantifier: str  # "", "ForAnyValue" or "ForAllValues"


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    principals: tuple[str, ...] | None  # "*" or user names; None when NotPrincipal is used
    not_principals: tuple[str, ...] | None
    actions: tuple[str, ...]
    negate_actions: bool
    resources: tuple[str, ...]
    negate_resources: bool
    conditions: tuple[Condition, ...]

    @property
    def is_public(self) -> bool:
        """An Allow that anyone matches, whatever the conditions (AWS counts a policy
        public unless fixed values such as a source IP range narrow it)."""
        anyone = self.principals is not None and "*" in self.principals
        narrowed = any(c.key in ("aws:sourceip", "aws:userid", "aws:username")
                       and c.operator in ("IpAddress", "StringEquals", "StringLike")
                       for c in self.conditions)
        return self.effect == ALLOW and (anyone or self.not_principals is not None) \
            and not narrowed


@dataclass(frozen=True)
class Policy:
    text: str  # as the owner sent it
    statements: tuple[Statement, ...]

    @property
    def is_public(self) -> bool:
        return any(s.is_public for s in self.statements)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items) or len(items) > 1000:
        raise MalformedPolicy(f"{what} must be a non-empty string or list of strings")
    return tuple(items)


def _principals(value: Any) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    if not isinstance(value, dict) or set(value) - {"AWS", "CanonicalUser"} or not value:
        raise MalformedPolicy("Invalid principal in policy: use \"*\" or "
                              "{\"AWS\": \"arn:aws:iam:::user/NAME\"}")
    names = []
    for raw in (v for part in value.values() for v in _strings(part, "Principal")):
        if raw == "*":
            names.append("*")
            continue
        matched = USER_ARN.match(raw)
        name = matched.group(1) if matched else raw
        if raw.startswith("arn:") and not matched:
            raise MalformedPolicy(f"Invalid principal in policy: {raw[:128]}")
        names.append(name)
    return tuple(names)


def _check_action(action: str) -> str:
    lowered = action.lower()
    if lowered == "*":
        return "s3:*"
    if not lowered.startswith("s3:"):
        raise MalformedPolicy(f"Policy has invalid action: {action[:128]}")
    if not any(wildcard_match(known, lowered) for known in _ACTIONS_LOWER):
        raise MalformedPolicy(f"Policy has invalid action: {action[:128]}")
    return lowered


def _check_resource(resource: str, bucket: str) -> str:
    if resource == "*":
        return resource
    if not resource.startswith(BUCKET_ARN):
        raise MalformedPolicy(f"Policy has invalid resource: {resource[:128]}")
    named = resource[len(BUCKET_ARN):].split("/", 1)[0]
    if not wildcard_match(bucket, named):
        raise MalformedPolicy("Policy has invalid resource: it must name this bucket "
                              f"({resource[:128]})")
    return resource


def _conditions(raw: Any) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MalformedPolicy("Condition must be an object of operators")
    found = []
    for full_operator, block in raw.items():
        quantifier, _, operator = full_operator.rpartition(":")
        if quantifier not in ("", "ForAnyValue", "ForAllValues"):
            raise MalformedPolicy(f"Invalid Condition type: {full_operator[:64]}")
        if_exists = operator.endswith("IfExists") and operator != "IfExists"
        base = operator.removesuffix("IfExists") if if_exists else operator
        if base not in OPERATORS or (if_exists and base == "Null"):
            raise MalformedPolicy(f"Invalid Condition type: {full_operator[:64]}")
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy(f"{full_operator[:64]} needs keys and values")
        for key, values in block.items():
            lowered = key.lower()
            if lowered not in KEYS and not lowered.startswith(TAG_KEY_PREFIXES):
                raise MalformedPolicy(f"Policy has an invalid condition key: {key[:128]}")
            items = values if isinstance(values, list) else [values]
            if not items or len(items) > 1000 or not all(
                    isinstance(v, str | int | float | bool) and not isinstance(v, dict)
                    for v in items):
                raise MalformedPolicy(f"Condition values of {key[:128]} must be strings, "
                                      "numbers or booleans")
            texts = tuple(_text(v) for v in items)
            _check_values(base, texts, key)
            found.append(Condition(base, lowered, texts, if_exists, quantifier))
    return tuple(found)


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_values(operator: str, values: tuple[str, ...], key: str) -> None:
    try:
        if operator in _NUMERIC_OPS:
            for v in values:
                float(v)
        elif operator in _DATE_OPS:
            for v in values:
                _date(v)
        elif operator in ("IpAddress", "NotIpAddress"):
            for v in values:
                ipaddress.ip_network(v, strict=False)
        elif operator in ("Bool", "Null") and any(v.lower() not in ("true", "false")
                                                  for v in values):
            raise ValueError
    except ValueError:
        raise MalformedPolicy(f"Invalid value for {operator} on {key[:128]}") from None


def parse_policy(text: str, bucket: str) -> Policy:
    """A bucket policy document checked as S3 checks it; MalformedPolicy otherwise."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise MalformedPolicy(f"Policies must be at most {MAX_POLICY_BYTES} bytes")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise MalformedPolicy("Policies must be valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedPolicy("A policy is a JSON object")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise MalformedPolicy(f"Unknown field {sorted(unknown)[0][:64]}")
    if document.get("Version", "2008-10-17") not in VERSIONS:
        raise MalformedPolicy(f"The policy's Version is one of {', '.join(VERSIONS)}")
    raw_statements = document.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicy("Missing required field Statement")
    return Policy(text, tuple(_statement(s, bucket) for s in raw_statements))


_STATEMENT_FIELDS = frozenset(("Sid", "Effect", "Principal", "NotPrincipal", "Action",
                               "NotAction", "Resource", "NotResource", "Condition"))


def _statement(raw: Any, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Each Statement is a JSON object")
    unknown = set(raw) - _STATEMENT_FIELDS
    if unknown:
        raise MalformedPolicy(f"Unknown field {sorted(unknown)[0][:64]}")
    effect = raw.get("Effect")
    if effect not in (ALLOW, DENY):
        raise MalformedPolicy("Invalid effect: use Allow or Deny")
    if ("Principal" in raw) == ("NotPrincipal" in raw):
        raise MalformedPolicy("Each statement names exactly one of Principal and NotPrincipal")
    if ("Action" in raw) == ("NotAction" in raw):
        raise MalformedPolicy("Missing required field Action (or NotAction)")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise MalformedPolicy("Missing required field Resource (or NotResource)")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str) or len(sid) > 256:
        raise MalformedPolicy("A Sid is a string")
    actions = _strings(raw.get("Action", raw.get("NotAction")), "Action")
    resources = _strings(raw.get("Resource", raw.get("NotResource")), "Resource")
    return Statement(
        sid=sid, effect=effect,
        principals=_principals(raw["Principal"]) if "Principal" in raw else None,
        not_principals=_principals(raw["NotPrincipal"]) if "NotPrincipal" in raw else None,
        actions=tuple(_check_action(a) for a in actions), negate_actions="NotAction" in raw,
        resources=tuple(_check_resource(r, bucket) for r in resources),
        negate_resources="NotResource" in raw,
        conditions=_conditions(raw.get("Condition")),
    )


# -- matching ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in glob), re.DOTALL)


def wildcard_match(text: str, glob: str) -> bool:
    """IAM's `*` (any run) and `?` (one character) wildcards."""
    if "*" not in glob and "?" not in glob:
        return text == glob
    return _pattern(glob).fullmatch(text) is not None


def _principal_matches(names: tuple[str, ...], user: str | None) -> bool:
    return "*" in names or (user is not None and user in names)


def _date(text: str) -> datetime:
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(operator: str, have: str, want: str) -> bool:
    """One request value against one policy value, by the operator's family (the
    negated operators are decided by their positive form, then inverted)."""
    try:
        if operator in ("StringEquals", "StringNotEquals"):
            return have == want
        if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
            return have.lower() == want.lower()
        if operator in ("StringLike", "StringNotLike"):
            return wildcard_match(have, want)
        if operator in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"):
            return wildcard_match(have, want)
        if operator in _NUMERIC_OPS:
            return _ORDER[operator.removeprefix("Numeric")](float(have), float(want))
        if operator in _DATE_OPS:
            return _ORDER[operator.removeprefix("Date")](_date(have), _date(want))
        if operator == "Bool":
            return have.lower() == want.lower()
        if operator == "BinaryEquals":
            return have == want
        if operator in ("IpAddress", "NotIpAddress"):
            return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
    except (ValueError, TypeError):
        return False
    return False


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b, "NotEquals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b, "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b, "GreaterThanEquals": lambda a, b: a >= b,
}


def condition_holds(condition: Condition, values: Mapping[str, Sequence[str]]) -> bool:
    have = list(values.get(condition.key, ()))
    operator = condition.operator
    if operator == "Null":  # "true": the key is absent; "false": it is present
        return (not have) == (condition.values[0].lower() == "true")
    negated = operator in _NEGATED

    def one(value: str) -> bool:
        found = any(_compare(operator, value, want) for want in condition.values)
        return not found if negated else found

    if not have:
        if condition.quantifier == "ForAllValues":
            return True
        if condition.quantifier == "ForAnyValue":
            return False
        return condition.if_exists or negated
    if condition.quantifier == "ForAllValues":
        return all(one(v) for v in have)
    if condition.quantifier == "ForAnyValue":
        return any(one(v) for v in have)
    return any(one(v) for v in have) if not negated else all(one(v) for v in have)


def _applies(statement: Statement, facts: RequestFacts) -> bool:
    if statement.principals is not None:
        if not _principal_matches(statement.principals, facts.user):
            return False
    elif statement.not_principals is not None and \
            _principal_matches(statement.not_principals, facts.user):
        return False
    action = facts.action.lower()
    named = any(wildcard_match(action, a) for a in statement.actions)
    if named == statement.negate_actions:
        return False
    resource = any(wildcard_match(facts.resource, r) for r in statement.resources)
    if resource == statement.negate_resources:
        return False
    return all(condition_holds(c, facts.values) for c in statement.conditions)


def evaluate(policy: Policy | None, facts: RequestFacts) -> str | None:
    """DENY when a Deny statement applies, else ALLOW when an Allow does, else None."""
    if policy is None:
        return None
    allowed = False
    for statement in policy.statements:
        if _applies(statement, facts):
            if statement.effect == DENY:
                return DENY
            allowed = True
    return ALLOW if allowed else None
