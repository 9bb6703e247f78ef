"""Reading multipart uploads with limits: never more than the limit is held in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from engine.errors import InputError

FIELD_LIMIT = 1024  # bytes of one text field
CHUNK = 64 * 1024


class UploadTooLargeError(Exception):
    """The body (or its file part) is larger than the service accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than {limit} bytes")
        self.limit = limit


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


async def _read_limited(part: BodyPartReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart(request: web.Request) -> MultipartReader:
    if not request.content_type.startswith("multipart/"):
        raise MalformedUploadError(
            f"expected a multipart/form-data body, got {request.content_type or 'none'}"
        )
    try:
        return await request.multipart()
    except (ValueError, AssertionError, KeyError, HttpProcessingError) as exc:
        raise MalformedUploadError(f"malformed multipart body: {exc}") from exc


async def read_upload(request: web.Request, file_field: str, limit: int) -> Upload:
    """The form's `file_field` (at most `limit` bytes) and its small text fields."""
    check_content_length(request, limit)
    reader = await _multipart(request)
    upload = Upload(b"")
    found = False
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise MalformedUploadError("nested multipart bodies are not accepted")
            if part.name == file_field:
                upload.data, found = await _read_limited(part, limit), True
            elif part.name:
                raw = await _read_limited(part, FIELD_LIMIT)
                upload.fields[part.name] = raw.decode("utf-8", "replace")
    except UploadTooLargeError:
        raise
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        raise MalformedUploadError(f"malformed multipart body: {exc}") from exc
    if not found:
        raise MalformedUploadError(f"the form has no {file_field!r} file part")
    return upload


async def read_files(
    request: web.Request, file_field: str, limit: int, total_limit: int, max_files: int
) -> list[tuple[str, bytes]]:
    """Every `file_field` part as (filename, bytes): each <= limit, all <= total_limit."""
    check_content_length(request, total_limit)
    reader = await _multipart(request)
    files: list[tuple[str, bytes]] = []
    total = 0
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != file_field:
                raise MalformedUploadError(f"the form may only hold {file_field!r} file parts")
            if len(files) >= max_files:
                raise MalformedUploadError(f"at most {max_files} files per request")
            data = await _read_limited(part, min(limit, total_limit - total))
            total += len(data)
            files.append((part.filename or f"file{len(files) + 1}", data))
    except (UploadTooLargeError, MalformedUploadError):
        raise
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        raise MalformedUploadError(f"malformed multipart body: {exc}") from exc
    if not files:
        raise MalformedUploadError(f"the form has no {file_field!r} file part")
    return files
