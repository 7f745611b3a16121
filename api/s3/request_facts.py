"""What a bucket policy may ask about an S3 request (issue 24): its IAM action, the
resource it names, and the condition keys' values, from the request as it came."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from domain.policy import BUCKET_ARN, RequestFacts
from domain.records import Version

if TYPE_CHECKING:
    from api.s3.common import Call

# S3 operations and the IAM actions that name them.
IAM_ACTIONS = {
    "ListBuckets": "s3:ListAllMyBuckets", "CreateBucket": "s3:CreateBucket",
    "HeadBucket": "s3:ListBucket", "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketAcl": "s3:GetBucketAcl", "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "DeleteObjects": "s3:DeleteObject", "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject", "CopyObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject", "GetObjectAcl": "s3:GetObjectAcl",
    "PutObjectAcl": "s3:PutObjectAcl", "GetObjectAttributes": "s3:GetObjectAttributes",
    "GetObjectTagging": "s3:GetObjectTagging", "PutObjectTagging": "s3:PutObjectTagging",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetBucketTagging": "s3:GetBucketTagging", "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetObjectRetention": "s3:GetObjectRetention", "PutObjectRetention": "s3:PutObjectRetention",
    "GetObjectLegalHold": "s3:GetObjectLegalHold", "PutObjectLegalHold": "s3:PutObjectLegalHold",
    "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "GetBucketPolicy": "s3:GetBucketPolicy", "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketCors": "s3:GetBucketCORS", "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS", "PostObject": "s3:PutObject",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
}
# The action S3 names instead when the request names a version.
VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl", "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}
_HEADER_KEYS = {
    "s3:x-amz-acl": "x-amz-acl", "s3:x-amz-copy-source": "x-amz-copy-source",
    "s3:object-lock-mode": "x-amz-object-lock-mode",
    "s3:object-lock-retain-until-date": "x-amz-object-lock-retain-until-date",
    "s3:object-lock-legal-hold": "x-amz-object-lock-legal-hold",
    "s3:if-none-match": "if-none-match", "s3:x-amz-content-sha256": "x-amz-content-sha256",
    "aws:referer": "referer", "aws:useragent": "user-agent",
}
_LISTING_KEYS = {"s3:prefix": "prefix", "s3:delimiter": "delimiter", "s3:max-keys": "max-keys"}
MAX_VALUE_CHARS = 2048  # a header or query value a condition compares


def condition_values(call: Call) -> dict[str, list[str]]:
    """The condition keys of the request itself (an object's own tags come later)."""
    principal = call.caller.principal
    values: dict[str, list[str]] = {
        "aws:securetransport": ["true" if call.request.url.scheme == "https" else "false"],
        "aws:currenttime": [call.now.isoformat()],
        "aws:epochtime": [str(int(call.now.timestamp()))],
        "aws:principaltype": ["User" if principal else "Anonymous"],
    }
    if call.request.client is not None:
        values["aws:sourceip"] = [call.request.client.host]
    if principal is not None:
        values["aws:username"] = [principal.user]
        values["aws:userid"] = [principal.user]
    if call.caller.signature_version:
        values["s3:signatureversion"] = [call.caller.signature_version]
        values["s3:authtype"] = [call.caller.auth_type]
    given = [(key, call.header(header)) for key, header in _HEADER_KEYS.items()]
    if not call.key:  # a listing's parameters
        given += [(key, call.query.get(name)) for key, name in _LISTING_KEYS.items()]
    given.append(("s3:versionid", call.operation.version_id or None))
    values.update((key, [value[:MAX_VALUE_CHARS]]) for key, value in given if value is not None)
    if "s3:x-amz-copy-source" in values:
        values["s3:x-amz-copy-source"] = [unquote(values["s3:x-amz-copy-source"][0])]
    tagging = call.header("x-amz-tagging")
    if tagging:
        pairs = parse_qsl(tagging[:MAX_VALUE_CHARS], keep_blank_values=True)
        for tag_key, tag_value in pairs:
            values[f"s3:requestobjecttag/{tag_key}".lower()] = [tag_value]
        values["s3:requestobjecttagkeys"] = [k for k, _ in pairs]
    return values


def request_facts(call: Call, iam_action: str | None = None, bucket: str | None = None,
                  key: str | None = None, version: Version | None = None) -> RequestFacts:
    """The request as the bucket policy sees it: by default the call's own operation on
    its own bucket and key; `version`: the object it acts on (its tags are the
    s3:ExistingObjectTag keys)."""
    action = iam_action or IAM_ACTIONS.get(call.operation.name, f"s3:{call.operation.name}")
    if iam_action is None and call.operation.version_id:
        action = VERSIONED.get(action, action)
    bucket = call.bucket if bucket is None else bucket
    key = call.key if key is None else key
    resource = f"{BUCKET_ARN}{bucket}/{key}" if key else f"{BUCKET_ARN}{bucket}"
    values = call.condition_values
    if version is not None and version.get("tags"):
        values = {**values, **{f"s3:existingobjecttag/{k}".lower(): [v]
                               for k, v in version["tags"].items()}}
    return RequestFacts(call.user, action, resource, values)
