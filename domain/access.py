"""Access control: canned ACLs, grants, and the one policy function both doors call."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from domain.errors import AccessDenied, InvalidArgument
from domain.policy import ALLOW, DENY, Policy, RequestFacts, evaluate, parse_policy
from domain.public_access import PublicAccessBlock, without_public_grants
from domain.records import Acl, Grant

ALL_USERS = "group:all-users"
AUTHENTICATED_USERS = "group:authenticated-users"
PERMISSIONS = ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read")


SSO_KEY_PREFIX = "oidc:"  # a single sign-on caller's principal has no key: this and its subject


@dataclass(frozen=True)
class Principal:
    """An authenticated user; `None` stands for an anonymous caller."""

    user: str
    access_key: str
    is_admin: bool = False


class Action(Enum):
    """What a request wants to do, and which permission on which resource it needs."""

    LIST_BUCKET = ("bucket", "READ")
    WRITE_OBJECTS = ("bucket", "WRITE")
    READ_BUCKET_ACL = ("bucket", "READ_ACP")
    WRITE_BUCKET_ACL = ("bucket", "WRITE_ACP")
    ADMINISTER_BUCKET = ("bucket", "OWNER")  # delete it, change versioning or retention
    READ_OBJECT = ("object", "READ")
    READ_OBJECT_ACL = ("object", "READ_ACP")
    WRITE_OBJECT_ACL = ("object", "WRITE_ACP")

    @property
    def resource(self) -> str:
        return self.value[0]

    @property
    def permission(self) -> str:
        return self.value[1]


def user_grantee(user: str) -> str:
    return f"user:{user}"


def canned_acl(name: str, owner: str) -> Acl:
    """Expand a canned ACL name into its grants, as S3 defines them."""
    grants: list[Grant] = [{"grantee": user_grantee(owner), "permission": "FULL_CONTROL"}]
    if name == "public-read":
        grants.append({"grantee": ALL_USERS, "permission": "READ"})
    elif name == "public-read-write":
        grants.append({"grantee": ALL_USERS, "permission": "READ"})
        grants.append({"grantee": ALL_USERS, "permission": "WRITE"})
    elif name == "authenticated-read":
        grants.append({"grantee": AUTHENTICATED_USERS, "permission": "READ"})
    elif name != "private":
        raise InvalidArgument(
            f"Unknown canned ACL {name!r}; use one of {', '.join(CANNED_ACLS)}", acl=name
        )
    return {"owner": owner, "grants": grants}


def make_acl(owner: str, grants: list[Grant]) -> Acl:
    """An explicit ACL; every grant is checked, and the owner keeps full control."""
    for grant in grants:
        if grant["permission"] not in PERMISSIONS:
            raise InvalidArgument(
                f"Unknown permission {grant['permission']!r}; use one of {', '.join(PERMISSIONS)}",
                permission=grant["permission"],
            )
        grantee = grant["grantee"]
        if grantee not in (ALL_USERS, AUTHENTICATED_USERS) and not (
            grantee.startswith("user:") and len(grantee) > len("user:")
        ):
            raise InvalidArgument(
                f"Unknown grantee {grantee!r}; use user:<name>, {ALL_USERS} or "
                f"{AUTHENTICATED_USERS}",
                grantee=grantee,
            )
    return {"owner": owner, "grants": list(grants)}


def controls_bucket(principal: Principal | None, bucket_acl: Acl) -> bool:
    """An administrator or the bucket's owner: may do, and see, everything in it."""
    return principal is not None and (principal.is_admin or principal.user == bucket_acl["owner"])


def may_bypass_governance(principal: Principal | None, bucket_acl: Acl) -> bool:
    """S3's s3:BypassGovernanceRetention: with ACLs, the bucket's owner or an
    administrator (COMPLIANCE retention and legal holds yield to nobody)."""
    return controls_bucket(principal, bucket_acl)


# What a bucket's owner may always do, whatever its policy says (as in S3: an owner who
# denied everyone, itself included, can still read and change the policy).
OWNER_KEEPS = frozenset(("s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy",
                         "s3:getbucketpolicystatus"))


@lru_cache(maxsize=1024)
def policy_of(text: str | None, bucket: str) -> Policy | None:
    """A bucket's stored policy, parsed once (it was checked when it was stored)."""
    return None if text is None else parse_policy(text, bucket)


def authorize(
    principal: Principal | None,
    action: Action,
    bucket_acl: Acl,
    object_acl: Acl | None = None,
    policy: Policy | None = None,
    facts: RequestFacts | None = None,
    blocked: PublicAccessBlock | None = None,
) -> None:
    """Raise AccessDenied unless `principal` may perform `action`.

    As AWS evaluates it: an explicit Deny in the bucket policy refuses anyone (the
    bucket's owner keeps the right to read and change the policy); then the bucket's
    owner controls everything in the bucket (as S3's bucket-owner-enforced ownership
    does); then an Allow in the policy, or a grant on the resource the action names.
    `facts` describe the request to the policy (its IAM action, resource, conditions).
    `blocked`: the public access block in force (public grants ignored, a public
    policy's Allow not extended to anonymous callers).
    """
    verdict = evaluate(policy, facts) if facts is not None else None
    if blocked is not None:
        if verdict == ALLOW and blocked["restrict_public_buckets"] and principal is None \
                and policy is not None and policy.is_public:
            verdict = None
        if blocked["ignore_public_acls"]:
            bucket_acl = without_public_grants(bucket_acl, blocked)
            if object_acl is not None:
                object_acl = without_public_grants(object_acl, blocked)
    owner = controls_bucket(principal, bucket_acl)
    who = {
        "actor": principal.access_key if principal else "anonymous",
        "user": principal.user if principal else "anonymous",
    }
    if verdict == DENY and not (owner and facts is not None
                                and facts.action.lower() in OWNER_KEEPS):
        raise AccessDenied("Access Denied by the bucket policy", action=action.name, **who)
    if owner or verdict == ALLOW:
        return
    if action.permission == "OWNER":
        raise AccessDenied("Only the bucket owner may do this", action=action.name, **who)
    acl = bucket_acl if action.resource == "bucket" else object_acl
    if acl is not None and _grants(acl, principal, action.permission):
        return
    raise AccessDenied("Access Denied", action=action.name, **who)


def _grants(acl: Acl, principal: Principal | None, permission: str) -> bool:
    if principal is not None and principal.user == acl["owner"]:
        return True
    grantees = {ALL_USERS}
    if principal is not None:
        grantees |= {AUTHENTICATED_USERS, user_grantee(principal.user)}
    return any(
        g["grantee"] in grantees and g["permission"] in (permission, "FULL_CONTROL")
        for g in acl["grants"]
    )
