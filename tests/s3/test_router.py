"""The S3 router: a request parsed once into a typed operation, and the door's table
from operation names to handlers (table-driven, every operation)."""

from __future__ import annotations

import pytest

from api.s3 import buckets, listing, multipart, objects
from api.s3.door import HANDLERS
from api.s3.router import NOT_IMPLEMENTED, S3Operation, parse_operation


@pytest.mark.parametrize(("method", "bucket", "key", "query", "handler"), [
    ("GET", "", "", {}, buckets.list_buckets),
    ("PUT", "b", "", {}, buckets.create_bucket),
    ("HEAD", "b", "", {}, buckets.head_bucket),
    ("DELETE", "b", "", {}, buckets.delete_bucket),
    ("GET", "b", "", {}, listing.list_objects_v1),
    ("GET", "b", "", {"list-type": "2"}, listing.list_objects_v2),
    ("GET", "b", "", {"versions": ""}, listing.list_object_versions),
    ("GET", "b", "", {"location": ""}, buckets.get_location),
    ("GET", "b", "", {"versioning": ""}, buckets.get_versioning),
    ("PUT", "b", "", {"versioning": ""}, buckets.put_versioning),
    ("GET", "b", "", {"acl": ""}, buckets.get_acl),
    ("PUT", "b", "", {"acl": ""}, buckets.put_acl),
    ("GET", "b", "", {"uploads": ""}, multipart.list_uploads),
    ("POST", "b", "", {"delete": ""}, objects.delete_objects),
    ("PUT", "b", "k", {}, objects.put_object),
    ("GET", "b", "k", {}, objects.get_object),
    ("HEAD", "b", "k", {}, objects.head_object),
    ("DELETE", "b", "k", {}, objects.delete_object),
    ("GET", "b", "k", {"acl": ""}, objects.get_object_acl),
    ("PUT", "b", "k", {"acl": ""}, objects.put_object_acl),
    ("POST", "b", "k", {"uploads": ""}, multipart.create),
    ("PUT", "b", "k", {"partNumber": "1", "uploadId": "u"}, multipart.upload_part),
    ("POST", "b", "k", {"uploadId": "u"}, multipart.complete),
    ("DELETE", "b", "k", {"uploadId": "u"}, multipart.abort),
    ("GET", "b", "k", {"uploadId": "u"}, multipart.list_parts),
])
def test_every_operation_reaches_its_handler(
    method: str, bucket: str, key: str, query: dict[str, str], handler: object
) -> None:
    assert HANDLERS[parse_operation(method, bucket, key, query).name] is handler


@pytest.mark.parametrize(("method", "bucket", "key", "query", "copy", "name"), [
    ("GET", "", "", {}, False, "ListBuckets"),
    ("PUT", "", "", {}, False, NOT_IMPLEMENTED),
    ("PUT", "b", "", {}, False, "CreateBucket"),
    ("HEAD", "b", "", {}, False, "HeadBucket"),
    ("DELETE", "b", "", {}, False, "DeleteBucket"),
    ("GET", "b", "", {}, False, "ListObjects"),
    ("GET", "b", "", {"list-type": "2", "prefix": "a", "X-Amz-Signature": "s"}, False,
     "ListObjectsV2"),
    ("GET", "b", "", {"versions": "", "key-marker": "k"}, False, "ListObjectVersions"),
    ("GET", "b", "", {"location": ""}, False, "GetBucketLocation"),
    ("GET", "b", "", {"versioning": ""}, False, "GetBucketVersioning"),
    ("PUT", "b", "", {"versioning": ""}, False, "PutBucketVersioning"),
    ("GET", "b", "", {"acl": ""}, False, "GetBucketAcl"),
    ("PUT", "b", "", {"acl": ""}, False, "PutBucketAcl"),
    ("GET", "b", "", {"uploads": ""}, False, "ListMultipartUploads"),
    ("POST", "b", "", {"delete": ""}, False, "DeleteObjects"),
    ("POST", "b", "", {}, False, NOT_IMPLEMENTED),
    ("GET", "b", "", {"policy": ""}, False, "GetBucketPolicy"),
    ("GET", "b", "", {"policyStatus": ""}, False, "GetBucketPolicyStatus"),
    ("DELETE", "b", "", {"policy": ""}, False, "DeleteBucketPolicy"),
    ("GET", "b", "", {"lifecycle": ""}, False, "GetBucketLifecycleConfiguration"),
    ("PUT", "b", "", {"lifecycle": ""}, False, "PutBucketLifecycleConfiguration"),
    ("DELETE", "b", "", {"lifecycle": ""}, False, "DeleteBucketLifecycle"),
    ("GET", "b", "", {"tagging": ""}, False, "GetBucketTagging"),
    ("PUT", "b", "", {"tagging": ""}, False, "PutBucketTagging"),
    ("DELETE", "b", "", {"tagging": ""}, False, "DeleteBucketTagging"),
    ("GET", "b", "", {"object-lock": ""}, False, "GetObjectLockConfiguration"),
    ("PUT", "b", "", {"object-lock": ""}, False, "PutObjectLockConfiguration"),
    ("PUT", "b", "", {"policy": ""}, False, "PutBucketPolicy"),
    ("PUT", "b", "", {"website": ""}, False, NOT_IMPLEMENTED),
    ("DELETE", "b", "", {"cors": ""}, False, "DeleteBucketCors"),
    ("GET", "b", "", {"events": "s3:ObjectCreated:*"}, False, NOT_IMPLEMENTED),
    ("PUT", "b", "", {"notification-stream": ""}, False, NOT_IMPLEMENTED),
    ("PUT", "b", "k", {}, False, "PutObject"),
    ("PUT", "b", "k", {}, True, "CopyObject"),
    ("GET", "b", "k", {"versionId": "v1"}, False, "GetObject"),
    ("HEAD", "b", "k", {"partNumber": "2"}, False, "HeadObject"),
    ("DELETE", "b", "k", {"versionId": "v1"}, False, "DeleteObject"),
    ("GET", "b", "k", {"acl": ""}, False, "GetObjectAcl"),
    ("PUT", "b", "k", {"acl": ""}, False, "PutObjectAcl"),
    ("GET", "b", "k", {"tagging": ""}, False, "GetObjectTagging"),
    ("PUT", "b", "k", {"tagging": ""}, False, "PutObjectTagging"),
    ("DELETE", "b", "k", {"tagging": ""}, False, "DeleteObjectTagging"),
    ("GET", "b", "k", {"retention": ""}, False, "GetObjectRetention"),
    ("PUT", "b", "k", {"retention": ""}, False, "PutObjectRetention"),
    ("GET", "b", "k", {"legal-hold": ""}, False, "GetObjectLegalHold"),
    ("PUT", "b", "k", {"legal-hold": ""}, False, "PutObjectLegalHold"),
    ("GET", "b", "k", {"select": ""}, False, NOT_IMPLEMENTED),
    ("GET", "b", "k", {"attributes": ""}, False, "GetObjectAttributes"),
    ("POST", "b", "k", {"uploads": ""}, False, "CreateMultipartUpload"),
    ("PUT", "b", "k", {"partNumber": "1", "uploadId": "u"}, False, "UploadPart"),
    ("PUT", "b", "k", {"partNumber": "1", "uploadId": "u"}, True, "UploadPartCopy"),
    ("POST", "b", "k", {"uploadId": "u"}, False, "CompleteMultipartUpload"),
    ("DELETE", "b", "k", {"uploadId": "u"}, False, "AbortMultipartUpload"),
    ("GET", "b", "k", {"uploadId": "u"}, False, "ListParts"),
    ("POST", "b", "k", {"restore": ""}, False, NOT_IMPLEMENTED),
    ("PATCH", "b", "k", {}, False, NOT_IMPLEMENTED),
])
def test_requests_parse_into_their_operation(
    method: str, bucket: str, key: str, query: dict[str, str], copy: bool, name: str
) -> None:
    assert parse_operation(method, bucket, key, query, copy).name == name
    assert name in HANDLERS


def test_an_operation_carries_the_identifiers_it_names() -> None:
    parsed = parse_operation("PUT", "b", "a/k", {"uploadId": "u1", "partNumber": "3",
                                                 "versionId": ""})
    assert parsed == S3Operation("UploadPart", "b", "a/k", None, "u1", "3")
    assert parse_operation("GET", "b", "k", {"versionId": "v9"}).version_id == "v9"


def test_every_handler_is_reachable() -> None:
    """No handler in the table that no request parses to (the table and the parser
    agree)."""
    methods = ("GET", "PUT", "POST", "DELETE", "HEAD")
    queries = [{}, {"list-type": "2"}, {"uploads": ""}, {"uploadId": "u"}, {"delete": ""},
               {"partNumber": "1", "uploadId": "u"},
               *({name: ""} for name in ("versioning", "acl", "location", "versions",
                                         "tagging", "policy", "cors", "lifecycle", "website",
                                         "encryption", "replication", "object-lock",
                                         "ownershipControls", "retention", "legal-hold",
                                         "attributes", "policyStatus",
                                         "publicAccessBlock"))]
    reached = {
        parse_operation(method, bucket, key, query, copy, form, sts).name
        for method in methods for bucket, key in (("", ""), ("b", ""), ("b", "k"))
        for query in queries for copy in (False, True) for form in (False, True)
        for sts in (False, True)
    }
    assert reached == set(HANDLERS)


def test_a_form_post_to_a_bucket_is_a_browser_upload() -> None:
    assert parse_operation("POST", "b", "", {}, form=True).name == "PostObject"
    assert parse_operation("POST", "b", "", {"delete": ""}, form=True).name == "DeleteObjects"
    assert parse_operation("POST", "b", "", {"website": ""}, form=True).name == NOT_IMPLEMENTED
