"""Attachments: which ones to look at, the checks made before any download or work."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import PurePath

import discord
from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

from bot.engine_client.base import Kind
from bot.errors import BadAttachmentError

log = logging.getLogger(__name__)

MiB = 1024 * 1024
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
CLIP_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}


@dataclass(frozen=True)
class Limits:
    """What the bot accepts before any work starts."""

    max_image_bytes: int
    max_clip_bytes: int
    max_pixels: int


def looks_like_media(attachment: discord.Attachment) -> bool:
    """Whether an attachment claims to be an image or a clip (its content is checked later)."""
    content_type = (attachment.content_type or "").split(";")[0]
    suffix = PurePath(attachment.filename).suffix.lower()
    return content_type.startswith(("image/", "video/")) or suffix in IMAGE_SUFFIXES | (
        CLIP_SUFFIXES
    )


def media_attachments(message: discord.Message) -> list[discord.Attachment]:
    """The attachments of a message that claim to be images or clips."""
    return [a for a in message.attachments if looks_like_media(a)]


def sniff_kind(data: bytes) -> Kind:
    """'clip' for video containers (by their bytes, never their name), else 'image'.

    The engine's `engine.video.is_clip` is the same rule (the bot does not import the engine).
    """
    head = data[:16]
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):  # MP4/MOV, Matroska/WebM
        return "clip"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "clip"
    return "image"


def size_text(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size >= MiB else f"{size / 1024:.0f} KiB"


def check_attachment(attachment: discord.Attachment, limits: Limits) -> None:
    """Refuse, from Discord's metadata alone, what is empty or over the limits."""
    name = discord.utils.escape_markdown(attachment.filename)
    if attachment.size == 0:
        raise BadAttachmentError(f"`{name}` is empty.")
    largest = max(limits.max_image_bytes, limits.max_clip_bytes)
    if attachment.size > largest:
        raise BadAttachmentError(
            f"`{name}` is {size_text(attachment.size)}; the limit is {size_text(largest)}."
        )
    width, height = attachment.width or 0, attachment.height or 0
    if width * height > limits.max_pixels:
        raise BadAttachmentError(
            f"`{name}` is {width}x{height} pixels; the limit is {limits.max_pixels:,} pixels."
        )


async def download(attachment: discord.Attachment, limits: Limits) -> tuple[bytes, Kind]:
    """The attachment's bytes and what they are; the per-kind byte limit is applied."""
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        log.warning("download of attachment %s failed: %s", attachment.id, exc)
        raise BadAttachmentError("I could not download that attachment; try again.") from exc
    kind = sniff_kind(data)
    limit = limits.max_clip_bytes if kind == "clip" else limits.max_image_bytes
    if len(data) > limit:
        raise BadAttachmentError(
            f"That {kind} is {size_text(len(data))}; the limit is {size_text(limit)}."
        )
    return data, kind


def clip_seconds(data: bytes) -> float | None:
    """A clip's duration from its headers (blocking: run it in a thread); None if unreadable.

    Unreadable clips are left to the engine, which explains what is wrong with them.
    """
    with tempfile.NamedTemporaryFile(suffix=".clip") as file:
        file.write(data)
        file.flush()
        try:
            infos = ffmpeg_parse_infos(file.name, check_duration=True, decode_file=False)
        except (OSError, KeyError, ValueError, IndexError, AttributeError):
            log.debug("could not read the clip's duration", exc_info=True)
            return None
    duration = infos.get("video_duration") or infos.get("duration")
    return float(duration) if duration else None
