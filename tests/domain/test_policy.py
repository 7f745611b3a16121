"""Bucket policy evaluation as AWS documents it, table-driven (issue 24): every operator
family with IfExists and the set qualifiers, principals, actions, resources, and the
Deny / Allow precedence."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from domain.errors import MalformedPolicy
from domain.policy import (
    ALLOW,
    DENY,
    RequestFacts,
    condition_holds,
    evaluate,
    parse_policy,
    wildcard_match,
)

BUCKET = "photos"


def _policy(*statements: dict[str, Any]) -> Any:
    return parse_policy(orjson.dumps({"Version": "2012-10-17",
                                      "Statement": list(statements)}).decode(), BUCKET)


def _allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*", **fields}


def _facts(user: str | None = "alice", action: str = "s3:GetObject",
           resource: str = f"arn:aws:s3:::{BUCKET}/k", **values: Any) -> RequestFacts:
    return RequestFacts(user, action, resource,
                        {k.lower().replace("__", ":").replace("_", "-"): v if isinstance(v, list)
                         else [v] for k, v in values.items()})


def _condition(operator: str, key: str, wanted: Any) -> Any:
    return _policy(_allow(Condition={operator: {key: wanted}})).statements[0].conditions[0]


# -- operator families: (operator, policy value, request value or None, holds) ----------

STRING_CASES = [
    ("StringEquals", "abc", "abc", True), ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True), ("StringEquals", "abc", None, False),
    ("StringNotEquals", "abc", "abd", True), ("StringNotEquals", "abc", "abc", False),
    ("StringNotEquals", ["a", "b"], "b", False), ("StringNotEquals", "abc", None, True),
    ("StringEqualsIgnoreCase", "AbC", "aBc", True), ("StringEqualsIgnoreCase", "a", "b", False),
    ("StringNotEqualsIgnoreCase", "AbC", "aBc", False),
    ("StringNotEqualsIgnoreCase", "a", "b", True),
    ("StringLike", "ab*", "abc", True), ("StringLike", "a?c", "abc", True),
    ("StringLike", "a?c", "abbc", False), ("StringLike", "*", "", True),
    ("StringLike", "home/${x}", "home/${x}", True), ("StringLike", "a*", None, False),
    ("StringNotLike", "ab*", "abc", False), ("StringNotLike", "ab*", "xbc", True),
    ("StringNotLike", "ab*", None, True),
]
NUMERIC_CASES = [
    ("NumericEquals", "10", "10", True), ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", "10", "11", False), ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False), ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False), ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "11", False), ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False), ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10", "9", False), ("NumericLessThan", "10", "abc", False),
    ("NumericLessThan", 10, "5", True), ("NumericGreaterThan", "10", None, False),
]
DATE_CASES = [
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", True),
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", False),
    ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", True),
    ("DateLessThan", "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
    ("DateLessThan", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", False),
    ("DateLessThanEquals", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", True),
    ("DateGreaterThan", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z", True),
    ("DateGreaterThan", "2026-06-01T00:00:00Z", "2025-01-01T00:00:00Z", False),
    ("DateGreaterThanEquals", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", True),
    ("DateGreaterThan", "1767225600", "2026-06-01T00:00:00Z", True),  # epoch seconds
    ("DateLessThan", "2026-06-01T00:00:00Z", None, False),
]
BOOL_CASES = [
    ("Bool", "true", "true", True), ("Bool", "true", "false", False),
    ("Bool", True, "true", True), ("Bool", "false", "false", True),
    ("Bool", "false", None, False),
]
IP_CASES = [
    ("IpAddress", "10.0.0.0/8", "10.1.2.3", True), ("IpAddress", "10.0.0.0/8", "11.1.2.3", False),
    ("IpAddress", ["192.168.1.0/24", "10.0.0.0/8"], "192.168.1.9", True),
    ("IpAddress", "127.0.0.1", "127.0.0.1", True), ("IpAddress", "::1/128", "::1", True),
    ("IpAddress", "2001:db8::/32", "2001:db8::5", True), ("IpAddress", "10.0.0.0/8", "::1", False),
    ("NotIpAddress", "10.0.0.0/8", "11.1.2.3", True), ("NotIpAddress", "10.0.0.0/8", "10.9.9.9",
                                                        False),
    ("NotIpAddress", "10.0.0.0/8", None, True), ("IpAddress", "10.0.0.0/8", "not-an-ip", False),
]
ARN_CASES = [
    ("ArnEquals", "arn:aws:s3:::a/b", "arn:aws:s3:::a/b", True),
    ("ArnEquals", "arn:aws:s3:::a/b", "arn:aws:s3:::a/c", False),
    ("ArnLike", "arn:aws:s3:::a/*", "arn:aws:s3:::a/c", True),
    ("ArnNotLike", "arn:aws:s3:::a/*", "arn:aws:s3:::b/c", True),
    ("ArnNotEquals", "arn:aws:s3:::a/b", "arn:aws:s3:::a/b", False),
]
KEY_OF = {"String": "aws:UserAgent", "Numeric": "s3:max-keys", "Date": "aws:CurrentTime",
          "Bool": "aws:SecureTransport", "IpAddress": "aws:SourceIp",
          "NotIpAddress": "aws:SourceIp", "Arn": "s3:x-amz-copy-source"}
ALL_CASES = [*STRING_CASES, *NUMERIC_CASES, *DATE_CASES, *BOOL_CASES, *IP_CASES, *ARN_CASES]


def _key(operator: str) -> str:
    return next(key for family, key in KEY_OF.items() if operator.startswith(family))


@pytest.mark.parametrize(("operator", "wanted", "have", "holds"), ALL_CASES)
def test_each_operator(operator: str, wanted: Any, have: str | None, holds: bool) -> None:
    key = _key(operator)
    condition = _condition(operator, key, wanted)
    values = {} if have is None else {key.lower(): [have]}
    assert condition_holds(condition, values) is holds


@pytest.mark.parametrize(("operator", "wanted", "have", "holds"), ALL_CASES)
def test_if_exists_holds_when_the_key_is_absent(operator: str, wanted: Any,
                                                have: str | None, holds: bool) -> None:
    key = _key(operator)
    condition = _condition(operator + "IfExists", key, wanted)
    if have is None:
        assert condition_holds(condition, {}) is True
    else:
        assert condition_holds(condition, {key.lower(): [have]}) is holds


@pytest.mark.parametrize(("operator", "wanted", "have", "holds"), ALL_CASES)
def test_a_statement_applies_exactly_when_its_condition_holds(
        operator: str, wanted: Any, have: str | None, holds: bool) -> None:
    key = _key(operator)
    policy = _policy(_allow(Condition={operator: {key: wanted}}))
    values = {} if have is None else {key.lower(): [have]}
    facts = RequestFacts("alice", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/k", values)
    assert evaluate(policy, facts) == (ALLOW if holds else None)


SET_CASES = [
    # quantifier, operator, policy values, request values, holds
    ("ForAnyValue", "StringEquals", ["a", "b"], ["b", "z"], True),
    ("ForAnyValue", "StringEquals", ["a", "b"], ["y", "z"], False),
    ("ForAnyValue", "StringEquals", ["a"], [], False),
    ("ForAllValues", "StringEquals", ["a", "b"], ["a", "b"], True),
    ("ForAllValues", "StringEquals", ["a", "b"], ["a", "z"], False),
    ("ForAllValues", "StringEquals", ["a"], [], True),
    ("ForAllValues", "StringLike", ["team-*"], ["team-x", "team-y"], True),
    ("ForAnyValue", "StringNotEquals", ["a"], ["a", "b"], True),
    ("ForAllValues", "StringNotEquals", ["a"], ["a", "b"], False),
    ("ForAllValues", "StringNotEquals", ["a"], ["b", "c"], True),
]


@pytest.mark.parametrize(("quantifier", "operator", "wanted", "have", "holds"), SET_CASES)
def test_set_qualifiers(quantifier: str, operator: str, wanted: list[str], have: list[str],
                        holds: bool) -> None:
    condition = _condition(f"{quantifier}:{operator}", "s3:RequestObjectTagKeys", wanted)
    assert condition_holds(condition, {"s3:requestobjecttagkeys": have}) is holds


@pytest.mark.parametrize(("wanted", "present", "holds"), [
    ("true", False, True), ("true", True, False), ("false", True, True), ("false", False, False),
])
def test_null_checks_whether_a_key_is_there(wanted: str, present: bool, holds: bool) -> None:
    condition = _condition("Null", "s3:x-amz-acl", wanted)
    assert condition_holds(condition, {"s3:x-amz-acl": ["private"]} if present else {}) is holds


def test_every_key_and_operator_in_a_condition_must_hold() -> None:
    policy = _policy(_allow(Condition={
        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
        "StringEquals": {"aws:UserAgent": "app", "s3:x-amz-acl": "private"}}))
    every = {"aws:sourceip": ["10.0.0.1"], "aws:useragent": ["app"], "s3:x-amz-acl": ["private"]}
    assert evaluate(policy, RequestFacts("a", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/k",
                                         every)) == ALLOW
    for missing in every:
        fewer = {k: v for k, v in every.items() if k != missing}
        assert evaluate(policy, RequestFacts("a", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/k",
                                             fewer)) is None


# -- principals, actions, resources ------------------------------------------------------

PRINCIPALS = ["*", {"AWS": "*"}, {"AWS": "arn:aws:iam:::user/alice"}, {"AWS": "alice"},
              {"AWS": ["bob", "arn:aws:iam::123456789012:user/alice"]}, {"AWS": "bob"}]
USERS = ["alice", "bob", "carol", None]


def _principal_allows(principal: Any, user: str | None) -> bool:
    names: list[str] = []
    if principal == "*":
        return True
    for value in principal.values():
        for item in value if isinstance(value, list) else [value]:
            names.append(item.rsplit("/", 1)[-1])
    return "*" in names or (user is not None and user in names)


@pytest.mark.parametrize(("principal", "user"), list(itertools.product(PRINCIPALS, USERS)))
def test_principal_and_not_principal(principal: Any, user: str | None) -> None:
    expected = _principal_allows(principal, user)
    allow = _policy(_allow(Principal=principal))
    assert (evaluate(allow, _facts(user)) == ALLOW) is expected
    deny_others = _policy({"Effect": "Deny", "NotPrincipal": principal, "Action": "s3:*",
                           "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    assert (evaluate(deny_others, _facts(user)) == DENY) is (not expected)


ACTIONS = [("s3:GetObject", "s3:GetObject", True), ("s3:Get*", "s3:GetObject", True),
           ("s3:Get*", "s3:PutObject", False), ("s3:*", "s3:DeleteObject", True),
           ("*", "s3:ListBucket", True), ("S3:getobject", "s3:GetObject", True),
           ("s3:*Object", "s3:PutObject", True), ("s3:*Object", "s3:PutObjectAcl", False),
           ("s3:GetObject?cl", "s3:GetObjectAcl", True)]


@pytest.mark.parametrize(("pattern", "action", "matches"), ACTIONS)
def test_action_and_not_action(pattern: str, action: str, matches: bool) -> None:
    resource = f"arn:aws:s3:::{BUCKET}/k"
    allow = _policy(_allow(Action=pattern, Resource="*"))
    assert (evaluate(allow, _facts(action=action, resource=resource)) == ALLOW) is matches
    negated = _policy({"Effect": "Allow", "Principal": "*", "NotAction": pattern,
                       "Resource": "*"})
    assert (evaluate(negated, _facts(action=action, resource=resource)) == ALLOW) is not matches


RESOURCES = [(f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}/a/b", True),
             (f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}", False),
             (f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}", True),
             (f"arn:aws:s3:::{BUCKET}/public/*", f"arn:aws:s3:::{BUCKET}/public/x", True),
             (f"arn:aws:s3:::{BUCKET}/public/*", f"arn:aws:s3:::{BUCKET}/private/x", False),
             (f"arn:aws:s3:::{BUCKET}/Case", f"arn:aws:s3:::{BUCKET}/case", False),
             (f"arn:aws:s3:::{BUCKET}/a?c", f"arn:aws:s3:::{BUCKET}/abc", True),
             ("arn:aws:s3:::phot*/*", f"arn:aws:s3:::{BUCKET}/x", True),
             ("*", f"arn:aws:s3:::{BUCKET}/x", True)]


@pytest.mark.parametrize(("pattern", "resource", "matches"), RESOURCES)
def test_resource_and_not_resource(pattern: str, resource: str, matches: bool) -> None:
    allow = _policy(_allow(Action="s3:*", Resource=pattern))
    assert (evaluate(allow, _facts(resource=resource)) == ALLOW) is matches
    negated = _policy({"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                       "NotResource": pattern})
    assert (evaluate(negated, _facts(resource=resource)) == ALLOW) is not matches


# -- precedence ---------------------------------------------------------------------------

@pytest.mark.parametrize(("effects", "expected"), [
    ((), None), (("Allow",), ALLOW), (("Deny",), DENY), (("Allow", "Deny"), DENY),
    (("Deny", "Allow"), DENY), (("Allow", "Allow"), ALLOW),
])
def test_an_explicit_deny_wins(effects: tuple[str, ...], expected: str | None) -> None:
    statements = [{**_allow(), "Effect": effect} for effect in effects]
    policy = _policy(*statements) if statements else None
    assert evaluate(policy, _facts()) == expected


# -- documents S3 refuses ----------------------------------------------------------------

MALFORMED = [
    ("not json", "valid JSON"),
    ("[]", "JSON object"),
    ('{"Version": "2012-10-17"}', "Statement"),
    ('{"Version": "2099-01-01", "Statement": []}', "Version"),
    (orjson.dumps({"Statement": [{**_allow(), "Effect": "Maybe"}]}).decode(), "effect"),
    (orjson.dumps({"Statement": [{k: v for k, v in _allow().items() if k != "Principal"}]}
                  ).decode(), "Principal"),
    (orjson.dumps({"Statement": [_allow(Action="s3:Fly")]}).decode(), "invalid action"),
    (orjson.dumps({"Statement": [_allow(Action="ec2:RunInstances")]}).decode(),
     "invalid action"),
    (orjson.dumps({"Statement": [_allow(Resource="arn:aws:s3:::other/*")]}).decode(),
     "invalid resource"),
    (orjson.dumps({"Statement": [_allow(Resource="arn:aws:ec2:::x")]}).decode(),
     "invalid resource"),
    (orjson.dumps({"Statement": [_allow(Principal={"AWS": "arn:aws:iam::1:role/x"})]}).decode(),
     "principal"),
    (orjson.dumps({"Statement": [_allow(Condition={"StringSortOf": {"aws:UserAgent": "x"}})]}
                  ).decode(), "Condition type"),
    (orjson.dumps({"Statement": [_allow(Condition={"StringEquals": {"aws:Nope": "x"}})]}
                  ).decode(), "condition key"),
    (orjson.dumps({"Statement": [_allow(Condition={"IpAddress": {"aws:SourceIp": "x"}})]}
                  ).decode(), "Invalid value"),
    (orjson.dumps({"Statement": [_allow(Condition={"DateLessThan": {"aws:CurrentTime": "x"}})]}
                  ).decode(), "Invalid value"),
    (orjson.dumps({"Statement": [_allow(Extra=1)]}).decode(), "Unknown field"),
    ("{" + '"Statement": [' + ",".join([orjson.dumps(_allow()).decode()] * 250) + "]}",
     "at most"),
]


@pytest.mark.parametrize(("document", "reason"), MALFORMED)
def test_malformed_policies_say_why(document: str, reason: str) -> None:
    with pytest.raises(MalformedPolicy) as refused:
        parse_policy(document, BUCKET)
    assert reason.lower() in refused.value.message.lower()


def test_wildcards() -> None:
    assert wildcard_match("abc", "a*") and wildcard_match("abc", "a?c")
    assert not wildcard_match("abc", "a?") and wildcard_match("a.c", "a.c")
    assert not wildcard_match("abc", "a.c") and wildcard_match("", "*")


def test_a_public_policy_is_told_from_a_narrowed_one() -> None:
    assert _policy(_allow()).is_public
    assert not _policy(_allow(Principal={"AWS": "alice"})).is_public
    assert not _policy(_allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
                       ).is_public
    assert not _policy({**_allow(), "Effect": "Deny"}).is_public
