from __future__ import annotations

import pytest

from domain.access import (
    ALL_USERS,
    Action,
    Principal,
    authorize,
    canned_acl,
    make_acl,
    user_grantee,
)
from domain.errors import AccessDenied, InvalidArgument

ALICE = Principal("alice", "AKALICE")
BOB = Principal("bob", "AKBOB")
ROOT = Principal("root", "AKROOT", is_admin=True)


def test_owner_and_admin_may_do_anything() -> None:
    acl = canned_acl("private", "alice")
    for action in Action:
        authorize(ALICE, action, acl, canned_acl("private", "bob"))
        authorize(ROOT, action, acl)


@pytest.mark.parametrize("who", [BOB, None])
def test_private_bucket_refuses_others(who: Principal | None) -> None:
    with pytest.raises(AccessDenied):
        authorize(who, Action.LIST_BUCKET, canned_acl("private", "alice"))


def test_public_read_lets_anyone_list_but_not_write() -> None:
    acl = canned_acl("public-read", "alice")
    authorize(None, Action.LIST_BUCKET, acl)
    with pytest.raises(AccessDenied):
        authorize(None, Action.WRITE_OBJECTS, acl)


def test_authenticated_read_excludes_anonymous() -> None:
    acl = canned_acl("authenticated-read", "alice")
    authorize(BOB, Action.LIST_BUCKET, acl)
    with pytest.raises(AccessDenied):
        authorize(None, Action.LIST_BUCKET, acl)


def test_object_reads_follow_the_object_acl() -> None:
    bucket = canned_acl("private", "alice")
    authorize(None, Action.READ_OBJECT, bucket, canned_acl("public-read", "alice"))
    with pytest.raises(AccessDenied):
        authorize(None, Action.READ_OBJECT, bucket, canned_acl("private", "alice"))


def test_grant_to_a_user_and_full_control_implies_all() -> None:
    acl = make_acl("alice", [{"grantee": user_grantee("bob"), "permission": "FULL_CONTROL"}])
    authorize(BOB, Action.WRITE_OBJECTS, acl)
    authorize(BOB, Action.WRITE_BUCKET_ACL, acl)
    with pytest.raises(AccessDenied):
        authorize(BOB, Action.ADMINISTER_BUCKET, acl)


def test_bad_grants_and_canned_names_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        canned_acl("world-writable", "alice")
    with pytest.raises(InvalidArgument):
        make_acl("alice", [{"grantee": ALL_USERS, "permission": "EVERYTHING"}])
    with pytest.raises(InvalidArgument):
        make_acl("alice", [{"grantee": "someone", "permission": "READ"}])
