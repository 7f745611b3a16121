"""The plain records that events carry: JSON-native, stable, and typed with TypedDict."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from domain.errors import InvalidArgument, MetadataTooLarge

NULL_VERSION = "null"
MAX_USER_METADATA_BYTES = 2048


class RequestMeta(TypedDict):
    """Who asked for a change, from where, and under which request id (decision 10)."""

    actor: str  # the access key, or "anonymous", or the system's own name
    request_id: str
    source: str
    user_agent: str
    user: NotRequired[str]  # the user the access key belonged to (absent in early events)
    origin_site: NotRequired[str]  # a change replicated from another site: that site
    origin_position: NotRequired[int]  # and its position in that site's log
    reason: NotRequired[str]  # a change the store made itself: why (a lifecycle rule)


class Chunk(TypedDict):
    digest: str  # hex SHA-256 of the chunk's bytes
    size: int


class Content(TypedDict):
    """Where an object's bytes are and what they hash to; never the bytes."""

    size: int
    etag: str  # hex MD5 of the body, or "<md5-of-md5s>-N" for multipart
    sha256: str
    chunks: list[Chunk]
    plain_sizes: NotRequired[list[int]]  # sealed chunks: the plaintext each holds


class Grant(TypedDict):
    grantee: str  # "user:<name>", "group:all-users" or "group:authenticated-users"
    permission: str  # READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL


class Acl(TypedDict):
    owner: str
    grants: list[Grant]


class InventoryConfig(TypedDict):
    """Where a bucket's daily Parquet inventory lands: <destination>/<prefix><bucket>/<day>."""

    destination: str
    prefix: str
    scheduled_by: NotRequired[str]  # the user each export writes as (absent: the bucket owner)


class ReplicationRule(TypedDict):
    """Where a bucket's changes under `prefix` go: bucket `bucket` of site `site`."""

    id: str
    prefix: str
    site: str
    bucket: str
    delete_markers: bool  # whether delete markers travel too (S3's DeleteMarkerReplication)
    enabled: bool
    priority: int


class Part(TypedDict):
    """One part of a multipart object, as GetObject?partNumber serves it."""

    size: int
    etag: str
    checksum: NotRequired[dict[str, str]]  # the part's own, as it was uploaded


class Retention(TypedDict):
    """Object lock: the version may not be removed before `until` (RFC 3339 UTC)."""

    mode: str  # GOVERNANCE or COMPLIANCE
    until: str


class DefaultEncryption(TypedDict):
    """A bucket's default encryption for objects that ask for none."""

    mode: str  # "AES256" or "aws:kms"
    kms_key: NotRequired[str]  # aws:kms: the key's name (else strata's SSE-S3 key)


class WrappedKey(TypedDict):
    """A data key wrapped by a key-encryption key (never the data key itself)."""

    key: str  # the KEK's name ("" for SSE-C: the customer's key wraps it)
    version: int  # the KEK's version
    blob: str  # base64 of nonce + AES-GCM ciphertext of the data key


class Encryption(TypedDict):
    """How a version's chunks are encrypted: AES-256-GCM frames of `frame` plaintext
    bytes, each stored as a 12-byte nonce, the ciphertext and a 16-byte tag."""

    mode: str  # "AES256" (SSE-S3), "aws:kms" (SSE-KMS) or "SSE-C"
    wrapped: WrappedKey
    frame: int
    plain_sizes: list[int]  # each chunk's plaintext size (the chunks hold ciphertext)
    customer_key_md5: NotRequired[str]  # SSE-C: what S3 answers back
    customer_key_digest: NotRequired[str]  # SSE-C: salted HMAC of the key, to refuse others
    bucket_key: NotRequired[bool]


class Version(TypedDict):
    """One version of an object key, or a delete marker."""

    version_id: str
    is_delete_marker: bool
    created_at: str  # RFC 3339 UTC
    owner: str
    size: int
    etag: str
    sha256: str
    chunks: list[Chunk]
    content_type: str
    headers: dict[str, str]  # Content-Disposition, Content-Encoding, Cache-Control, ...
    user_metadata: dict[str, str]
    acl: Acl
    checksum: NotRequired[dict[str, str]]  # {"CRC32": base64, ...} as the client asked
    checksum_type: NotRequired[str]  # multipart: COMPOSITE ("<b64>-N") or FULL_OBJECT
    parts: NotRequired[list[Part]]  # set when completed from a multipart upload
    replica_of: NotRequired[str]  # geo-replication brought it here from this site
    tags: NotRequired[dict[str, str]]  # its tag set (absent: none)
    retention: NotRequired[Retention]  # object lock retention
    legal_hold: NotRequired[bool]  # object lock legal hold (absent: off)
    encryption: NotRequired[Encryption]  # server-side encryption (absent: plaintext chunks)


# RFC 9110's token characters: what a header name may be made of.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# A header value sent back as it came: tab, space, visible ASCII and RFC 9110's obs-text
# (bytes 0x80-0xFF, as a header read as Latin-1 holds UTF-8). No line breaks, no other
# controls.
_VALUE = frozenset(
    "\t" + "".join(map(chr, range(0x20, 0x7F))) + "".join(map(chr, range(0x80, 0x100)))
)
MAX_HEADER_VALUE_CHARS = 2048  # a stored representation header or content type, each


def check_user_metadata(user_metadata: dict[str, str]) -> None:
    """Every name is a header token and every value a header value (they are sent back
    as x-amz-meta-* headers on every read); S3 counts the UTF-8 bytes of every name and
    value together against 2 KB."""
    for name, value in user_metadata.items():
        _check_header("metadata name", name, name, _TOKEN)
        _check_header("metadata value", name, value, _VALUE)
    total = sum(len(k.encode()) + len(v.encode()) for k, v in user_metadata.items())
    if total > MAX_USER_METADATA_BYTES:
        raise MetadataTooLarge(
            f"Your metadata headers are {total} bytes, over the {MAX_USER_METADATA_BYTES} "
            "byte limit",
            size=total,
            max_size=MAX_USER_METADATA_BYTES,
        )


def check_representation(content_type: str, headers: dict[str, str]) -> None:
    """The content type and kept headers (Content-Disposition and the like) an object
    serves back: header values, each at most MAX_HEADER_VALUE_CHARS."""
    for name, value in (("content-type", content_type), *headers.items()):
        _check_header("header name", name, name, _TOKEN)
        _check_header("header value", name, value, _VALUE)
        if len(value) > MAX_HEADER_VALUE_CHARS:
            raise InvalidArgument(
                f"The {name} header is {len(value)} characters; at most "
                f"{MAX_HEADER_VALUE_CHARS} are kept",
                header=name[:64],
            )


def _check_header(what: str, name: str, text: str, allowed: frozenset[str]) -> None:
    if (not text and allowed is _TOKEN) or not set(text) <= allowed:
        raise InvalidArgument(
            f"The {what} of {name[:64]!r} cannot be sent back as an HTTP header: "
            "names are letters, digits and !#$%&'*+-.^_`|~; values have no line breaks "
            "or control characters",
            header=name[:64],
        )
