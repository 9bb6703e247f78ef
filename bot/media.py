"""A message's media (attachments, embeds' images and videos, stickers), the checks made
before any download, and the download itself: only from Discord's own hosts, streamed with
the byte limit applied as the bytes arrive."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any, Literal

import aiohttp
import discord
import yarl

from bot.errors import BadAttachmentError

log = logging.getLogger(__name__)

MiB = 1024 * 1024
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
CLIP_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}
DISCORD_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DISCORD_HOST_PATTERN = re.compile(r"images-ext-\d+\.discordapp\.net")  # the embed proxy
DISCORD_CDN = "https://cdn.discordapp.com"
DISCORD_MEDIA = "https://media.discordapp.net"
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
CHUNK = 64 * 1024
LOTTIE_REFUSAL = (
    "That sticker is a Lottie animation (vector data, not a picture); "
    "I can only draw PNG, APNG and GIF stickers."
)
OFF_DISCORD_REFUSAL = (
    "I only download media from Discord itself, and that link's preview is not hosted by "
    "Discord; attach the file instead."
)
Origin = Literal["attachment", "embed", "sticker"]


@dataclass(frozen=True)
class Limits:
    """What the bot accepts before any work starts."""

    max_image_bytes: int
    max_clip_bytes: int
    max_pixels: int

    @property
    def max_bytes(self) -> int:
        return max(self.max_image_bytes, self.max_clip_bytes)


@dataclass(frozen=True)
class Media:
    """One picture or clip of a message, and what Discord says about it before a download."""

    url: str  # where the bot downloads it: Discord's CDN or media proxy
    filename: str
    origin: Origin
    size: int | None = None  # bytes, when Discord says (attachments)
    width: int | None = None
    height: int | None = None
    content_type: str | None = None
    refusal: str | None = None  # why it cannot be translated (a Lottie sticker, a foreign host)

    @classmethod
    def from_attachment(cls, attachment: discord.Attachment) -> Media:
        return cls(
            attachment.url,
            attachment.filename,
            "attachment",
            attachment.size,
            attachment.width,
            attachment.height,
            attachment.content_type,
        )

    def to_dict(self) -> dict[str, Any]:
        """What the request log keeps, to run it again (buttons)."""
        return {"media": asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Media:
        """A stored source: a `to_dict`, or an attachment as earlier versions stored it."""
        if "media" in data:
            return cls(**data["media"])
        return cls(
            str(data["url"]),
            str(data.get("filename") or "file"),
            "attachment",
            data.get("size"),
            data.get("width"),
            data.get("height"),
            data.get("content_type"),
        )


class MediaFinder:
    """Where a message's media are, and which hosts they may be fetched from."""

    def __init__(self, api_base: str | None = None, cdn_base: str | None = None) -> None:
        self.cdn_base = (cdn_base or DISCORD_CDN).rstrip("/")
        self.media_base = (cdn_base or DISCORD_MEDIA).rstrip("/")
        # A self-hosted server's own origins (its API's and its CDN's) are Discord here.
        self.origins = {_origin(url) for url in (api_base, cdn_base) if url}

    def allowed(self, url: str) -> bool:
        """Discord's CDN and media proxy (https), or the configured server's origins."""
        try:
            parsed = yarl.URL(url)
        except ValueError:
            return False
        if _origin(url) in self.origins:
            return True
        host = parsed.host or ""
        return parsed.scheme == "https" and (
            host in DISCORD_HOSTS or DISCORD_HOST_PATTERN.fullmatch(host) is not None
        )

    def of(self, message: discord.Message) -> list[Media]:
        """Its attachments, then its embeds' videos and images, then its stickers."""
        found = [Media.from_attachment(a) for a in message.attachments if looks_like_media(a)]
        found += [m for embed in message.embeds if (m := self._embed(embed)) is not None]
        found += [self._sticker(sticker) for sticker in message.stickers]
        return found

    def _embed(self, embed: discord.Embed) -> Media | None:
        for part, kind in (
            (embed.video, "video"),
            (embed.image, "image"),
            (embed.thumbnail, "image"),
        ):
            url = getattr(part, "proxy_url", None) or getattr(part, "url", None)
            if not url:
                continue
            proxied = getattr(part, "proxy_url", None)
            name = PurePath(yarl.URL(url).path).name or f"embed-{kind}"
            refusal = None if proxied and self.allowed(proxied) else OFF_DISCORD_REFUSAL
            return Media(
                proxied or url,
                name,
                "embed",
                width=getattr(part, "width", None),
                height=getattr(part, "height", None),
                content_type=f"{kind}/*",
                refusal=refusal,
            )
        return None

    def _sticker(self, sticker: discord.StickerItem) -> Media:
        fmt = sticker.format
        if fmt is discord.StickerFormatType.lottie:
            return Media("", f"{sticker.name}.json", "sticker", refusal=LOTTIE_REFUSAL)
        base = self.media_base if fmt is discord.StickerFormatType.gif else self.cdn_base
        url = f"{base}/stickers/{sticker.id}.{fmt.file_extension}"
        return Media(url, f"{sticker.name}.{fmt.file_extension}", "sticker", content_type="image/*")


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = yarl.URL(url)
    return (parsed.scheme, parsed.host or "", parsed.port)


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


def size_text(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size >= MiB else f"{size / 1024:.0f} KiB"


def check_media(media: Media, limits: Limits) -> None:
    """Refuse, from what Discord says alone, what cannot be drawn, is empty or over the limits."""
    if media.refusal:
        raise BadAttachmentError(media.refusal)
    name = discord.utils.escape_markdown(media.filename)
    if media.size == 0:
        raise BadAttachmentError(f"`{name}` is empty.")
    if media.size is not None and media.size > limits.max_bytes:
        raise BadAttachmentError(
            f"`{name}` is {size_text(media.size)}; the limit is {size_text(limits.max_bytes)}."
        )
    width, height = media.width or 0, media.height or 0
    if width * height > limits.max_pixels:
        raise BadAttachmentError(
            f"`{name}` is {width}x{height} pixels; the limit is {limits.max_pixels:,} pixels."
        )


async def download(media: Media, limits: Limits, finder: MediaFinder) -> bytes:
    """The media's bytes, streamed from an allowed host, refused as soon as they pass the limit
    (the engine then applies its own per-kind limits and checks the pixels on the header)."""
    check_media(media, limits)
    if not finder.allowed(media.url):
        log.warning("refused to fetch %s: not a Discord host", yarl.URL(media.url).host)
        raise BadAttachmentError(OFF_DISCORD_REFUSAL)
    limit = limits.max_bytes
    try:
        async with (
            aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as session,
            session.get(media.url, allow_redirects=False) as response,
        ):
            if response.status != 200:
                log.warning("download of %s: HTTP %s", media.filename, response.status)
                raise BadAttachmentError("I could not download that file; try again.")
            declared = response.content_length
            if declared is not None and declared > limit:
                raise _too_big(declared, limit)
            chunks, received = [], 0
            async for chunk in response.content.iter_chunked(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise _too_big(received, limit, at_least=True)
                chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("download of %s failed: %s", media.filename, exc)
        raise BadAttachmentError("I could not download that file; try again.") from exc
    data = b"".join(chunks)
    if not data:
        raise BadAttachmentError(f"`{discord.utils.escape_markdown(media.filename)}` is empty.")
    return data


def _too_big(size: int, limit: int, at_least: bool = False) -> BadAttachmentError:
    more = "more than " if at_least else ""
    return BadAttachmentError(
        f"That file is {more}{size_text(size)}; the limit is {size_text(limit)}."
    )
