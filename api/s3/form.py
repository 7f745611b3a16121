"""A browser form upload read as it arrives: the fields before the file are kept (bounded),
and the file is handed on as a stream, never held whole (issue 24)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from api.s3.errors import InvalidRequest, MalformedPOSTRequest

MAX_FIELD_BYTES = 64 * 1024  # one field's value (a policy is at most a few KB)
MAX_FIELDS_BYTES = 256 * 1024  # every field before the file, together
MAX_FIELDS = 200


@dataclass
class _State:
    fields: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[str, str] = field(default_factory=dict)
    in_file: bool = False
    file_done: bool = False
    file_content_type: str = ""
    pending: deque[bytes] = field(default_factory=deque)
    total: int = 0


@dataclass
class Form:
    fields: dict[str, str]  # lower-case names, as sent before the file
    filename: str
    content_type: str  # the file part's own Content-Type
    file: AsyncIterator[bytes]


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        raise MalformedPOSTRequest("The body of your POST request is not well-formed "
                                   "multipart/form-data.")
    return options[b"boundary"]


async def read_form(stream: AsyncIterator[bytes], content_type: str) -> Form:
    """Read fields until the part named `file` begins; its bytes are then the Form's
    `file` stream (fields after it are ignored, as S3 ignores them)."""
    state = _State()

    def on_part_begin() -> None:
        state.name, state.filename, state.headers = "", None, {}
        state.value = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        state.headers[state.header_field.decode("latin-1").lower()] = \
            state.header_value.decode("latin-1")
        state.header_field, state.header_value = bytearray(), bytearray()

    def on_headers_finished() -> None:
        _, options = parse_options_header(state.headers.get("content-disposition", ""))
        state.name = options.get(b"name", b"").decode("utf-8", "replace").lower()
        filename = options.get(b"filename")
        state.filename = None if filename is None else filename.decode("utf-8", "replace")
        if state.name == "file" and not state.file_done:
            state.in_file = True
            state.file_content_type = state.headers.get("content-type", "")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.in_file:
            state.pending.append(bytes(data[start:end]))
            return
        if state.file_done:
            return
        state.value += data[start:end]
        state.total += end - start
        if len(state.value) > MAX_FIELD_BYTES or state.total > MAX_FIELDS_BYTES:
            raise MalformedPOSTRequest("A form field before the file is too large")

    def on_part_end() -> None:
        if state.in_file:
            state.in_file, state.file_done = False, True
        elif not state.file_done and state.name:
            if len(state.fields) >= MAX_FIELDS:
                raise MalformedPOSTRequest(f"A form has at most {MAX_FIELDS} fields")
            state.fields[state.name] = state.value.decode("utf-8", "replace")

    parser = MultipartParser(_boundary(content_type), {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
    })
    chunks = stream.__aiter__()

    async def feed() -> bool:
        try:
            piece = await chunks.__anext__()
        except StopAsyncIteration:
            parser.finalize()
            return False
        try:
            parser.write(piece)
        except MalformedPOSTRequest:
            raise
        except Exception:
            raise MalformedPOSTRequest("The body of your POST request is not well-formed "
                                       "multipart/form-data.") from None
        return True

    while not state.in_file and not state.file_done:
        if not await feed():
            raise InvalidRequest("POST requires exactly one file upload per request.")

    async def file_stream() -> AsyncIterator[bytes]:
        while True:
            while state.pending:
                yield state.pending.popleft()
            if state.file_done:
                return
            if not await feed():
                raise MalformedPOSTRequest("The request body ended inside the file.")

    return Form(state.fields, state.filename or "", state.file_content_type, file_stream())
