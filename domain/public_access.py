"""S3's public access block: four switches on a bucket, and a store-wide default the
operator sets (STRATA_PUBLIC_ACCESS_BLOCK); a switch is on for a bucket when either
turns it on (issue 24)."""

from __future__ import annotations

from typing import TypedDict

from domain.errors import AccessDenied
from domain.records import Acl

PUBLIC_GRANTEES = frozenset(("group:all-users", "group:authenticated-users"))


class PublicAccessBlock(TypedDict):
    block_public_acls: bool
    ignore_public_acls: bool
    block_public_policy: bool
    restrict_public_buckets: bool


NONE_BLOCKED = PublicAccessBlock(block_public_acls=False, ignore_public_acls=False,
                                 block_public_policy=False, restrict_public_buckets=False)


def combined(*blocks: PublicAccessBlock | None) -> PublicAccessBlock:
    """A switch is on when any of the blocks turns it on."""
    def on(name: str) -> bool:
        return any(b is not None and bool(b.get(name)) for b in blocks)

    return PublicAccessBlock(block_public_acls=on("block_public_acls"),
                             ignore_public_acls=on("ignore_public_acls"),
                             block_public_policy=on("block_public_policy"),
                             restrict_public_buckets=on("restrict_public_buckets"))


def is_public_acl(acl: Acl) -> bool:
    return any(g["grantee"] in PUBLIC_GRANTEES for g in acl["grants"])


def check_acl_allowed(acl: Acl, block: PublicAccessBlock) -> None:
    """BlockPublicAcls: a request that would set a public ACL is refused."""
    if block["block_public_acls"] and is_public_acl(acl):
        raise AccessDenied("Access Denied: public ACLs are blocked on this bucket "
                           "(BlockPublicAcls)", block="BlockPublicAcls")


def without_public_grants(acl: Acl, block: PublicAccessBlock) -> Acl:
    """IgnorePublicAcls: public grants are kept but count for nothing."""
    if not block["ignore_public_acls"] or not is_public_acl(acl):
        return acl
    return {"owner": acl["owner"],
            "grants": [g for g in acl["grants"] if g["grantee"] not in PUBLIC_GRANTEES]}


def check_policy_allowed(is_public: bool, block: PublicAccessBlock) -> None:
    """BlockPublicPolicy: a public bucket policy is refused."""
    if block["block_public_policy"] and is_public:
        raise AccessDenied("Access Denied: public bucket policies are blocked on this bucket "
                           "(BlockPublicPolicy)", block="BlockPublicPolicy")


SWITCHES = {"BlockPublicAcls": "block_public_acls", "IgnorePublicAcls": "ignore_public_acls",
            "BlockPublicPolicy": "block_public_policy",
            "RestrictPublicBuckets": "restrict_public_buckets"}


def parse_switches(text: str) -> PublicAccessBlock:
    """"BlockPublicAcls,IgnorePublicAcls", "all" or "" (the store-wide default)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        names = list(SWITCHES)
    unknown = [n for n in names if n not in SWITCHES]
    if unknown:
        raise ValueError(f"unknown public access block switch {unknown[0]!r}: use "
                         f"{', '.join(SWITCHES)} or all")
    return PublicAccessBlock(block_public_acls="BlockPublicAcls" in names,
                             ignore_public_acls="IgnorePublicAcls" in names,
                             block_public_policy="BlockPublicPolicy" in names,
                             restrict_public_buckets="RestrictPublicBuckets" in names)
