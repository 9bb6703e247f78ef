"""Reading forms and uploads with limits: never more than the limit is held in memory.

A form holds at most FORM_FIELDS text fields (each at most FIELD_LIMIT bytes, together at
most FORM_BYTES) besides its file parts; past that the answer is 413 at once. Every read of
the body must bring data within the service's `body_timeout_s`, else the connection is
closed (408): a body has to keep moving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from engine.errors import InputError

from . import keys

FIELD_LIMIT = 1024  # bytes of one text field
FORM_FIELDS = 16  # text fields (and unnamed parts) of one form
FORM_BYTES = 8 * 1024  # bytes of all text fields of one form together
CHUNK = 64 * 1024
T = TypeVar("T")


class UploadTooLargeError(Exception):
    """The body (or its file part, or its text fields) is larger than the service accepts."""

    def __init__(self, limit: int, message: str | None = None) -> None:
        super().__init__(message or f"the upload is larger than {limit} bytes")
        self.limit = limit


class SlowBodyError(Exception):
    """The body stopped arriving: no data for `timeout_s` seconds."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the request body stopped arriving (nothing for {timeout_s:g} s)")
        self.timeout_s = timeout_s


async def _timely(request: web.Request, read: Awaitable[T]) -> T:
    """One read of the body, which must bring data within the service's body timeout."""
    timeout = request.app[keys.CONFIG].body_timeout_s
    try:
        async with asyncio.timeout(timeout):
            return await read
    except TimeoutError:
        raise SlowBodyError(timeout) from None


class _FieldBudget:
    """Counts a form's text fields and their bytes against FORM_FIELDS and FORM_BYTES."""

    def __init__(self) -> None:
        self.fields, self.bytes = 0, 0

    def one_more(self) -> None:
        self.fields += 1
        if self.fields > FORM_FIELDS:
            raise UploadTooLargeError(
                FORM_FIELDS, f"the form has more than {FORM_FIELDS} text fields"
            )

    def left(self) -> int:
        return min(FIELD_LIMIT, FORM_BYTES - self.bytes)

    def spend(self, size: int) -> None:
        self.bytes += size


class MalformedUploadError(InputError):
    """The body is not the multipart form the endpoint expects."""


@dataclass
class Upload:
    """The file part's bytes and the text fields of a multipart form."""

    data: bytes
    fields: dict[str, str] = field(default_factory=dict)


def check_content_length(request: web.Request, limit: int) -> None:
    """Refuse a declared body larger than `limit` (plus form overhead) before reading it."""
    declared = request.content_length
    if declared is not None and declared > limit + CHUNK:
        raise UploadTooLargeError(limit)


async def _read_limited(
    request: web.Request, part: BodyPartReader, limit: int, too_large: str | None = None
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await _timely(request, part.read_chunk(CHUNK)):
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(limit, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_field(request: web.Request, part: BodyPartReader, budget: _FieldBudget) -> str:
    """A text field's value, within FIELD_LIMIT and what is left of FORM_BYTES."""
    budget.one_more()
    message = f"a text field is over {FIELD_LIMIT} bytes or the fields over {FORM_BYTES}"
    raw = await _read_limited(request, part, budget.left(), message)
    budget.spend(len(raw))
    return raw.decode("utf-8", "replace")


async def _multipart(request: web.Request) -> MultipartReader:
    if not request.content_type.startswith("multipart/"):
        raise MalformedUploadError(
            f"expected a multipart/form-data body, got {request.content_type or 'none'}"
        )
    try:
        return await request.multipart()
    except (ValueError, AssertionError, KeyError, HttpProcessingError) as exc:
        raise MalformedUploadError(f"malformed multipart body: {exc}") from exc


async def read_upload(request: web.Request, file_field: str | None, limit: int) -> Upload:
    """The form's `file_field` (at most `limit` bytes; None: no file) and its text fields."""
    check_content_length(request, limit)
    reader = await _multipart(request)
    upload, budget = Upload(b""), _FieldBudget()
    found = False
    try:
        while (part := await _timely(request, reader.next())) is not None:
            if not isinstance(part, BodyPartReader):
                raise MalformedUploadError("nested multipart bodies are not accepted")
            if file_field and part.name == file_field and not found:
                upload.data, found = await _read_limited(request, part, limit), True
            elif part.filename is not None and part.name != file_field:
                raise MalformedUploadError(_misplaced_file(part.name, file_field))
            else:  # a second file part counts as a field: the form's parts are bounded
                value = await _read_field(request, part, budget)
                if part.name and part.name != file_field:
                    upload.fields[part.name] = value
    except (UploadTooLargeError, MalformedUploadError):
        raise
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        raise MalformedUploadError(f"malformed multipart body: {exc}") from exc
    if file_field and not found:
        raise MalformedUploadError(f"the form has no {file_field!r} file part")
    return upload


def _misplaced_file(name: str | None, file_field: str | None) -> str:
    """Why a file part in another field is refused (`-F file=@photo.jpg` for `image`)."""
    if file_field is None:
        return f"this form takes no file, got one in the field {name!r}"
    return f"the file goes in the form field {file_field!r}, not {name!r}"


async def read_files(
    request: web.Request, file_field: str, limit: int, total_limit: int, max_files: int
) -> list[tuple[str, bytes]]:
    """Every `file_field` part as (filename, bytes): each <= limit, all <= total_limit."""
    check_content_length(request, total_limit)
    reader = await _multipart(request)
    files: list[tuple[str, bytes]] = []
    total = 0
    try:
        while (part := await _timely(request, reader.next())) is not None:
            if not isinstance(part, BodyPartReader) or part.name != file_field:
                raise MalformedUploadError(f"the form may only hold {file_field!r} file parts")
            if len(files) >= max_files:
                raise MalformedUploadError(f"at most {max_files} files per request")
            data = await _read_limited(request, part, min(limit, total_limit - total))
            total += len(data)
            files.append((part.filename or f"file{len(files) + 1}", data))
    except (UploadTooLargeError, MalformedUploadError):
        raise
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        raise MalformedUploadError(f"malformed multipart body: {exc}") from exc
    if not files:
        raise MalformedUploadError(f"the form has no {file_field!r} file part")
    return files


async def read_form(request: web.Request) -> dict[str, str]:
    """A form of text fields only (urlencoded or multipart), bounded like every form."""
    if not request.body_exists:
        return {}
    if request.content_type != "application/x-www-form-urlencoded":
        return (await read_upload(request, None, 0)).fields
    limit = 3 * FORM_BYTES  # percent-encoding triples a byte
    check_content_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := await _timely(request, request.content.read(CHUNK)):
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(limit, f"the form is larger than {limit} bytes")
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", "replace")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_FIELDS)
    except ValueError:
        raise UploadTooLargeError(
            FORM_FIELDS, f"the form has more than {FORM_FIELDS} text fields"
        ) from None
    if any(len(value.encode()) > FIELD_LIMIT for _, value in pairs):
        raise UploadTooLargeError(FIELD_LIMIT, f"a text field is over {FIELD_LIMIT} bytes")
    return dict(pairs)
