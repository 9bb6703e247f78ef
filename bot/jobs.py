"""One beautify request from attachment to result: checks, request log, queue, engine, reply."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import discord
from sqlalchemy import func, select

from beautynet.db.models import GuildSettings, Request, RequestKind, RequestSource, RequestStatus
from beautynet.db.preferences import user_default_model
from beautynet.db.requests import NewRequest, RequestLog, utcnow
from beautynet.db.session import Database
from bot.delivery import Delivery
from bot.engine_client import EngineClient, Translated, TranslateParams
from bot.engine_client.base import Kind
from bot.errors import GENERIC_FAILURE, BadAttachmentError, BotError, BusyError, user_message
from bot.grid import labelled_grid
from bot.media import Limits, check_attachment, download, size_text
from bot.queue import FairQueue, Job

log = logging.getLogger(__name__)

SMALLER_SIZES = (512, 256, 128, 64)
Produce = Callable[[bytes, Kind, str], Awaitable[Translated]]
# Builds the buttons under a result: (request id, params, result) -> view; set by an extension.
ViewFactory = Callable[[int, TranslateParams, Translated], Awaitable[discord.ui.View | None]]
PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class Origin:
    """Who asked, where, and how."""

    user_id: int
    source: RequestSource
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None


class Beautifier:
    """Runs beautify requests through the fair queue and the engine, logging each one."""

    def __init__(
        self,
        engine: EngineClient,
        db: Database,
        requests: RequestLog,
        queue: FairQueue,
        limits: Limits,
    ) -> None:
        self.engine, self.db, self.requests, self.queue, self.limits = (
            engine, db, requests, queue, limits,
        )  # fmt: skip
        self.result_view: ViewFactory | None = None

    async def model_for(self, option: str | None, user_id: int, guild_id: int | None) -> str | None:
        """Command option, else the user's choice, else the guild's, else None (the default)."""
        if option:
            return option
        async with self.db.sessions() as session:
            chosen = await user_default_model(session, user_id)
            if chosen is None and guild_id is not None:
                query = select(GuildSettings.default_model).where(
                    GuildSettings.guild_id == guild_id
                )
                chosen = await session.scalar(query)
        return chosen

    async def precheck(self, origin: Origin, attachment: discord.Attachment) -> None:
        """Refuse at once (before deferring) what would be refused anyway."""
        settings = await self._guild_settings(origin.guild_id)
        limits = self.limits
        if settings is not None and settings.max_image_bytes:
            cap = min(limits.max_image_bytes, settings.max_image_bytes)
            limits = replace(limits, max_image_bytes=cap, max_clip_bytes=cap)
        check_attachment(attachment, limits)
        self.queue.check(origin.user_id)
        if settings is not None and settings.requests_per_user_per_hour:
            await self._check_hourly(origin, settings.requests_per_user_per_hour)

    async def _guild_settings(self, guild_id: int | None) -> GuildSettings | None:
        if guild_id is None:
            return None
        async with self.db.sessions() as session:
            return await session.get(GuildSettings, guild_id)

    async def _check_hourly(self, origin: Origin, allowed: int) -> None:
        """A guild's requests-per-user-per-hour limit (cancelled requests do not count)."""
        since = utcnow() - timedelta(hours=1)
        query = select(func.count(Request.id)).where(
            Request.user_id == origin.user_id,
            Request.guild_id == origin.guild_id,
            Request.queued_at >= since,
            Request.status != RequestStatus.CANCELLED,
        )
        async with self.db.sessions() as session:
            used = int(await session.scalar(query) or 0)
        if used >= allowed:
            raise BusyError(f"This server allows {allowed} requests per hour each; try later.")

    async def beautify(
        self,
        origin: Origin,
        attachment: discord.Attachment,
        params: TranslateParams,
        delivery: Delivery,
    ) -> None:
        """Log, queue and run one request; its outcome goes to `delivery`."""
        await self.precheck(origin, attachment)
        model = await self.model_for(params.model, origin.user_id, origin.guild_id)
        params = replace(params, model=model)

        async def produce(data: bytes, kind: Kind, request_id: str) -> Translated:
            return await self.translate(data, kind, params, request_id, delivery)

        await self._submit(origin, attachment, params, delivery, produce, with_view=True)

    async def compare(
        self, origin: Origin, attachment: discord.Attachment, delivery: Delivery
    ) -> None:
        """One image through every served model, in one labelled grid."""
        await self.precheck(origin, attachment)
        models = [m for m in await self.engine.models() if m.served]

        async def produce(data: bytes, kind: Kind, request_id: str) -> Translated:
            if kind != "image":
                raise BadAttachmentError("/compare works on images, not clips.")
            rows = []
            for info in models:
                ref = TranslateParams(model=f"{info.name}@{info.version}")
                result = await self.translate(data, kind, ref, request_id, delivery)
                rows.append((result.model, result.data))
            grid = await asyncio.to_thread(labelled_grid, rows)
            return Translated(grid, "compare.png", "every model", "image", 0, 0)

        params = TranslateParams(model="compare")
        await self._submit(origin, attachment, params, delivery, produce)

    async def _submit(
        self,
        origin: Origin,
        attachment: discord.Attachment,
        params: TranslateParams,
        delivery: Delivery,
        produce: Produce,
        with_view: bool = False,
    ) -> None:
        request_id = await self.requests.create(self._new_request(origin, attachment, params))
        view_params = params if with_view else None
        try:
            job = self.queue.submit(
                origin.user_id,
                lambda: self._work(request_id, attachment, produce, delivery, view_params),
            )
        except BotError as exc:
            await self.requests.finish(request_id, RequestStatus.CANCELLED, reason=str(exc))
            raise
        await self._wait(job, delivery)

    async def _wait(self, job: Job, delivery: Delivery) -> None:
        position = self.queue.position(job)
        if position > 0:
            await delivery.progress(f"⏳ Queued: position {position}.")
        await job.result

    def _new_request(
        self, origin: Origin, attachment: discord.Attachment, params: TranslateParams
    ) -> NewRequest:
        content_type = attachment.content_type or ""
        kind = RequestKind.CLIP if content_type.startswith("video/") else RequestKind.IMAGE
        return NewRequest(
            user_id=origin.user_id,
            source=origin.source,
            kind=kind,
            model=params.model or "default",
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            message_id=origin.message_id,
            parameters={"k": params.k, "panels": params.panels, "source": attachment.to_dict()},
            input_bytes=attachment.size,
            width=attachment.width,
            height=attachment.height,
        )

    async def _work(
        self,
        request_id: int,
        attachment: discord.Attachment,
        produce: Produce,
        delivery: Delivery,
        view_params: TranslateParams | None = None,
    ) -> None:
        await self.requests.start(request_id)
        started = time.perf_counter()
        try:
            await delivery.progress("🎨 Working on it…")
            data, kind = await download(attachment, self.limits)
            result = await produce(data, kind, str(request_id))
            file = discord.File(io.BytesIO(result.data), result.filename)
            view = None
            if view_params is not None and self.result_view is not None:
                view = await self.result_view(request_id, view_params, result)
            await delivery.result(caption(result, request_id), file, view)
        except Exception as exc:
            await self._fail(request_id, exc, delivery)
            return
        stages = {"total": time.perf_counter() - started}
        await self.requests.finish(request_id, output_bytes=len(result.data), stages=stages)

    async def _fail(self, request_id: int, exc: Exception, delivery: Delivery) -> None:
        message = user_message(exc)
        if message is None:
            log.exception("request %s failed", request_id, exc_info=exc)
        else:
            log.info("request %s refused: %s", request_id, message)
        reason = (message or f"internal error: {type(exc).__name__}")[:500]
        await self.requests.finish(request_id, RequestStatus.FAILED, reason=reason)
        try:
            await delivery.failure(message or GENERIC_FAILURE)
        except discord.HTTPException as http_error:
            log.warning("request %s: could not report the failure: %s", request_id, http_error)

    async def translate(
        self, data: bytes, kind: Kind, params: TranslateParams, request_id: str, delivery: Delivery
    ) -> Translated:
        """Run the engine; images are made smaller until they fit the upload limit."""
        limit = delivery.filesize_limit
        if kind == "clip":
            relay = ProgressRelay(delivery)
            return await self.engine.translate_clip(data, params, request_id, limit, relay)
        result = await self.engine.translate_image(data, params, request_id)
        for size in SMALLER_SIZES:
            if len(result.data) <= limit:
                return result
            if size >= panel_side(result, params.panels):
                continue
            params = replace(params, size=size)
            result = await self.engine.translate_image(data, params, request_id)
        if len(result.data) > limit:
            raise BadAttachmentError(
                f"The result ({size_text(len(result.data))}) is over this channel's upload "
                f"limit ({size_text(limit)})."
            )
        return result


class ProgressRelay:
    """A clip progress callback (called from a worker thread) that edits the status now and then."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.loop = asyncio.get_running_loop()
        self.last = 0.0
        self.pending: asyncio.Task[None] | None = None

    def __call__(self, done: int, total: int) -> None:
        self.loop.call_soon_threadsafe(self._maybe_edit, done, total)

    def _maybe_edit(self, done: int, total: int) -> None:
        now = time.monotonic()
        if (self.pending and not self.pending.done()) or now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        percent = 100 * done // max(total, 1)
        self.pending = self.loop.create_task(self._edit(f"🎞️ Frame {done} of {total} ({percent}%)…"))

    async def _edit(self, text: str) -> None:
        try:
            await self.delivery.progress(text)
        except discord.HTTPException as exc:
            log.debug("progress edit failed: %s", exc)


def panel_side(result: Translated, panels: int, gap: int = 4) -> int:
    """The long side of one panel of a composed result."""
    return max(result.height, (result.width - gap * (panels - 1)) // panels)


def caption(result: Translated, request_id: int) -> str:
    """The text shown with a result."""
    text = f"**{result.model}** · original | interpretation · request #{request_id}"
    if result.quality_reduced:
        text += "\n-# quality lowered to fit: " + "; ".join(result.notes)
    return text
