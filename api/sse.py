"""Server-side encryption of object data (issue 25): each version's own data key, its
chunks sealed with AES-256-GCM (`cryptography`) in frames of FRAME plaintext bytes, so
a range read opens only the frames it needs and memory stays flat.

A stored frame is a random 12-byte nonce, the ciphertext and the 16-byte tag. The data
key is kept only wrapped: by a key of strata's key service (SSE-S3, SSE-KMS), or by the
customer's own key (SSE-C), which strata never keeps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.system import System
from domain.errors import CustomerKeyRequired, KeyUnavailable
from domain.ports import Piece
from domain.records import Chunk, Content, Encryption, Version, WrappedKey

FRAME = 64 * 1024
NONCE, TAG = 12, 16
OVERHEAD = NONCE + TAG
SSE_S3, SSE_KMS, SSE_C = "AES256", "aws:kms", "SSE-C"
DEFAULT_KEY = "strata-s3"  # the key SSE-S3 wraps data keys with
ReadChunk = Callable[[Chunk, int, int, bool], Iterator[Piece]]  # BlobStore.read_chunk


class FrameSealer:
    """Seals plaintext frames with one data key (the ChunkWriter's port)."""

    frame = FRAME

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(data_key)

    def seal(self, plaintext: bytes, index: int) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, _position(index))


def _position(index: int) -> bytes:
    """A frame's place in its chunk, bound into its tag: frames cannot be moved."""
    return index.to_bytes(4, "big")


def new_data_key() -> bytes:
    return AESGCM.generate_key(256)


def wrap_with_customer_key(customer_key: bytes, data_key: bytes) -> WrappedKey:
    nonce = os.urandom(NONCE)
    sealed = AESGCM(customer_key).encrypt(nonce, data_key, b"sse-c")
    return WrappedKey(key="", version=0, blob=base64.b64encode(nonce + sealed).decode())


def unwrap_with_customer_key(customer_key: bytes, wrapped: WrappedKey) -> bytes:
    raw = base64.b64decode(wrapped["blob"])
    try:
        return AESGCM(customer_key).decrypt(raw[:NONCE], raw[NONCE:], b"sse-c")
    except InvalidTag:
        raise CustomerKeyRequired("The provided encryption key does not match the key the "
                                  "object was stored with") from None


def customer_key_digest(customer_key: bytes, salt: bytes | None = None) -> str:
    """A salted HMAC of the customer's key: enough to tell a wrong key, useless to learn
    the key (S3 keeps a salted HMAC too)."""
    salt = salt or os.urandom(16)
    mac = hmac.new(salt, customer_key, hashlib.sha256).hexdigest()
    return f"{salt.hex()}:{mac}"


def customer_key_matches(customer_key: bytes, digest: str) -> bool:
    salt, _, _ = digest.partition(":")
    return hmac.compare_digest(customer_key_digest(customer_key, bytes.fromhex(salt)), digest)


def stored_size(plain: int, frame: int = FRAME) -> int:
    frames = -(-plain // frame) if plain else 0
    return plain + frames * OVERHEAD


PIECE_BYTES = 1024 * 1024  # opened frames are handed on in pieces about this large


def _frames(pieces: Iterator[Piece], size: int) -> Iterator[memoryview | bytes]:
    """The sealed frames in a run of pieces, without copying those that lie inside one
    piece (most of them); the last may be shorter."""
    carry = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        if carry:
            need = size - len(carry)
            carry += view[:need]
            view = view[need:]
            if len(carry) < size:
                continue
            yield bytes(carry)
            carry = bytearray()
        while len(view) >= size:
            yield view[:size]
            view = view[size:]
        if view:
            carry += view
    if carry:
        yield bytes(carry)


def open_range(read_chunk: ReadChunk, chunks: list[Chunk], encryption: Encryption,
               data_key: bytes, start: int, end: int) -> Iterator[Piece]:
    """The plaintext bytes [start, end) of an encrypted version: only the frames they
    fall in are read and opened; a frame that fails its tag is an error, never bytes."""
    aead = AESGCM(data_key)
    frame = encryption["frame"]
    sealed_frame = frame + OVERHEAD
    offset = 0
    pending: list[bytes] = []
    pending_bytes = 0
    for chunk, plain in zip(chunks, encryption["plain_sizes"], strict=True):
        lo, hi = offset, offset + plain
        offset = hi
        if hi <= start or lo >= end:
            continue
        first, last = (max(start, lo) - lo) // frame, (min(end, hi) - lo - 1) // frame
        ct_start = first * sealed_frame
        ct_end = min(stored_size(plain, frame), (last + 1) * sealed_frame)
        # every frame's tag checks its bytes and its place: no whole-chunk hash first
        sealed_frames = _frames(read_chunk(chunk, ct_start, ct_end, True), sealed_frame)
        for index, sealed in zip(range(first, last + 1), sealed_frames, strict=False):
            try:
                opened = aead.decrypt(sealed[:NONCE], sealed[NONCE:], _position(index))
            except InvalidTag:
                raise KeyUnavailable("A frame of this object does not open with its key: "
                                     "its bytes or its key are not what was stored") from None
            frame_lo = lo + index * frame
            cut_lo = max(start, frame_lo) - frame_lo
            cut_hi = min(end, frame_lo + len(opened)) - frame_lo
            if cut_lo or cut_hi != len(opened):
                opened = opened[cut_lo:cut_hi]
            pending.append(opened)
            pending_bytes += len(opened)
            if pending_bytes >= PIECE_BYTES:
                yield b"".join(pending)
                pending, pending_bytes = [], 0
    if pending:
        yield b"".join(pending)


@dataclass(frozen=True)
class Sealing:
    sealer: FrameSealer
    encryption: Encryption  # without plain_sizes until the body is stored


def kms_key_name(raw: str) -> str:
    """A key named by itself, or by an ARN ending in key/<name> or alias/<name>."""
    for marker in ("key/", "alias/"):
        if marker in raw:
            return raw.rsplit(marker, 1)[1]
    return raw


def new_sealing(system: System, mode: str, kms_key: str | None,
                customer_key: tuple[bytes, str] | None = None) -> Sealing:
    """A fresh data key for a new object, wrapped as `mode` says (SSE-C: by the
    customer's key and its MD5, given as a pair)."""
    data_key = new_data_key()
    encryption: Encryption
    if mode == SSE_C:
        assert customer_key is not None
        key, md5 = customer_key
        encryption = Encryption(mode=SSE_C, wrapped=wrap_with_customer_key(key, data_key),
                                frame=FRAME, plain_sizes=[], customer_key_md5=md5,
                                customer_key_digest=customer_key_digest(key))
    else:
        name = kms_key_name(kms_key[:256]) if mode == SSE_KMS and kms_key else DEFAULT_KEY
        if name == DEFAULT_KEY:
            system.keys.ensure(name)
        encryption = Encryption(mode=mode, wrapped=system.keys.wrap(name, data_key),
                                frame=FRAME, plain_sizes=[])
    return Sealing(FrameSealer(data_key), encryption)


def sealed_version(version: Version, content: Content, sealing: Sealing | None) -> Version:
    """The version with its encryption recorded. An encrypted version keeps no hash of
    its plaintext but S3's: the MD5 ETag of SSE-S3 (as S3 answers); SSE-KMS and SSE-C
    get an ETag that says nothing of the plaintext (as S3's do)."""
    if sealing is None:
        return version
    encryption = Encryption(**{**sealing.encryption,
                               "plain_sizes": content.get("plain_sizes", [])})
    etag = version["etag"]
    if encryption["mode"] != SSE_S3:
        digests = "".join(c["digest"] for c in version["chunks"])
        etag = hashlib.md5(digests.encode(), usedforsecurity=False).hexdigest()
    return {**version, "encryption": encryption, "sha256": "", "etag": etag}


