"""An S3 request parsed once into a typed operation: AWS's operation name and the
identifiers it names (bucket, key, version, upload, part). The door looks the name up
in its handler table; handlers read the operation instead of the raw query.

The tables below are the whole routing: a sub-resource strata serves, one it keeps no
configuration for (GET answers S3's "not configured" error), one it does not serve
(NotImplemented), or a plain request of the method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NOT_IMPLEMENTED = "NotImplemented"


@dataclass(frozen=True)
class S3Operation:
    name: str  # "GetObject", "ListObjectsV2", ... or NOT_IMPLEMENTED
    bucket: str  # "" for the service
    key: str  # "" for a bucket
    version_id: str | None = None
    upload_id: str | None = None
    part_number: str | None = None  # as sent: the handler checks it


# Bucket sub-resources strata keeps no configuration for: GET answers this S3 error.
UNCONFIGURED = {
    "website": "NoSuchWebsiteConfiguration",
    "ownershipControls": "OwnershipControlsNotFoundError",
}
UNSUPPORTED = (
    "logging", "notification", "requestPayment", "accelerate", "analytics", "metrics",
    "inventory", "intelligent-tiering", "torrent",
    "restore", "select",
)
# What a plain bucket request (a listing, a creation, a deletion) may carry besides its
# signature. Any other parameter names a sub-resource: one strata does not serve
# answers NotImplemented rather than fall through to a listing or a creation.
PLAIN_BUCKET_PARAMETERS = frozenset((
    "list-type", "prefix", "delimiter", "marker", "max-keys", "continuation-token",
    "fetch-owner", "start-after", "encoding-type", "x-id",
    "AWSAccessKeyId", "Signature", "Expires",
))

_BUCKET_GET = {"versioning": "GetBucketVersioning", "acl": "GetBucketAcl",
               "location": "GetBucketLocation", "uploads": "ListMultipartUploads",
               "versions": "ListObjectVersions", "replication": "GetBucketReplication",
               "tagging": "GetBucketTagging", "lifecycle": "GetBucketLifecycleConfiguration",
               "object-lock": "GetObjectLockConfiguration", "policyStatus": "GetBucketPolicyStatus",
               "policy": "GetBucketPolicy", "publicAccessBlock": "GetPublicAccessBlock",
               "cors": "GetBucketCors", "encryption": "GetBucketEncryption"}
_BUCKET_PUT = {"versioning": "PutBucketVersioning", "acl": "PutBucketAcl",
               "replication": "PutBucketReplication", "tagging": "PutBucketTagging",
               "lifecycle": "PutBucketLifecycleConfiguration",
               "object-lock": "PutObjectLockConfiguration", "policy": "PutBucketPolicy",
               "publicAccessBlock": "PutPublicAccessBlock", "cors": "PutBucketCors",
               "encryption": "PutBucketEncryption"}
_BUCKET_DELETE = {"replication": "DeleteBucketReplication", "tagging": "DeleteBucketTagging",
                  "lifecycle": "DeleteBucketLifecycle", "policy": "DeleteBucketPolicy",
                  "publicAccessBlock": "DeletePublicAccessBlock", "cors": "DeleteBucketCors",
                  "encryption": "DeleteBucketEncryption"}
_OBJECT_GET = {"acl": "GetObjectAcl", "uploadId": "ListParts", "tagging": "GetObjectTagging",
               "retention": "GetObjectRetention", "legal-hold": "GetObjectLegalHold",
               "attributes": "GetObjectAttributes"}
_OBJECT_PUT = {"acl": "PutObjectAcl", "tagging": "PutObjectTagging",
               "retention": "PutObjectRetention", "legal-hold": "PutObjectLegalHold"}


def unconfigured_operation(sub_resource: str) -> str:
    return f"GetBucket:{sub_resource}"


def _names_a_sub_resource(query: Mapping[str, str]) -> bool:
    return any(
        name not in PLAIN_BUCKET_PARAMETERS and not name.lower().startswith("x-amz-")
        for name in query
    )


def _first(query: Mapping[str, str], table: Mapping[str, str]) -> str | None:
    return next((table[name] for name in table if name in query), None)


def _bucket_operation(method: str, query: Mapping[str, str], form: bool = False) -> str:
    if method == "GET":
        named = _first(query, _BUCKET_GET)
        if named is not None:
            return named
        unconfigured = next((name for name in UNCONFIGURED if name in query), None)
        if unconfigured is not None:
            return unconfigured_operation(unconfigured)
        if _names_a_sub_resource(query):
            return NOT_IMPLEMENTED
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    if method == "PUT":
        named = _first(query, _BUCKET_PUT)
        if named is not None:
            return named
        return NOT_IMPLEMENTED if _names_a_sub_resource(query) else "CreateBucket"
    if method == "HEAD":
        return "HeadBucket"
    if method == "DELETE":
        named = _first(query, _BUCKET_DELETE)
        if named is not None:
            return named
        return NOT_IMPLEMENTED if _names_a_sub_resource(query) else "DeleteBucket"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "POST" and form and not _names_a_sub_resource(query):
        return "PostObject"
    return NOT_IMPLEMENTED


_PLAIN_OBJECT = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject",
                 "DELETE": "DeleteObject"}


def _object_operation(method: str, query: Mapping[str, str], copy: bool) -> str:
    if not query:  # most requests: a plain read or write of an object
        if copy and method == "PUT":
            return "CopyObject"
        return _PLAIN_OBJECT.get(method, NOT_IMPLEMENTED)
    unsupported = any(name in query for name in UNSUPPORTED)
    if method == "GET":
        named = _first(query, _OBJECT_GET)
        if named is not None:
            return named
        return NOT_IMPLEMENTED if unsupported else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        named = _first(query, _OBJECT_PUT)
        if named is not None:
            return named
        if "uploadId" in query or "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        if unsupported:
            return NOT_IMPLEMENTED
        return "CopyObject" if copy else "PutObject"
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload"
        if "tagging" in query:
            return "DeleteObjectTagging"
        return NOT_IMPLEMENTED if unsupported else "DeleteObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
    return NOT_IMPLEMENTED


def parse_operation(method: str, bucket: str, key: str, query: Mapping[str, str],
                    copy_source: bool = False, form: bool = False,
                    sts: bool = False) -> S3Operation:
    """The operation a request asks for; `copy_source`: it carries x-amz-copy-source;
    `form`: its body is multipart/form-data (a browser's POST upload); `sts`: it is
    url-encoded parameters (an STS call to the service's address)."""
    if not bucket:
        name = "ListBuckets" if method == "GET" else \
            "AssumeRoleWithWebIdentity" if method == "POST" and sts else NOT_IMPLEMENTED
    elif not key:
        name = _bucket_operation(method, query, form)
    else:
        name = _object_operation(method, query, copy_source)
    if not query:
        return S3Operation(name, bucket, key)
    return S3Operation(
        name, bucket, key,
        version_id=query.get("versionId") or None,
        upload_id=query.get("uploadId"),
        part_number=query.get("partNumber"),
    )
