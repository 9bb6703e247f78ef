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

from bot.catalog import ModelCatalog, segmenter_as_run
from bot.delivery import Delivery
from bot.engine_client import EngineClient, Translated, TranslateParams
from bot.errors import GENERIC_FAILURE, BotError, BusyError, user_message
from bot.media import Limits, Media, MediaFinder, check_media, download
from bot.queue import FairQueue, Job
from infra.db.models import (
    ChannelKind,
    GuildSettings,
    InstallContext,
    RequestKind,
    RequestSource,
    RequestStatus,
)
from infra.db.preferences import find_guild_settings, user_default_model
from infra.db.queries import count_user_requests
from infra.db.requests import NewRequest, Outcome, RequestLog, input_hash
from infra.db.session import Database

log = logging.getLogger(__name__)

Produce = Callable[[bytes, str], Awaitable[Translated]]
# Builds the buttons under a result: (request id, params, result) -> view; given by the caller.
ViewFactory = Callable[[int, TranslateParams, Translated], Awaitable[discord.ui.View | None]]
Timer = Callable[[], float]
PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class Origin:
    """Who asked, where, and how (`bot.places` reads them from Discord)."""

    user_id: int
    source: RequestSource
    install: InstallContext
    channel_kind: ChannelKind
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None

    @property
    def settings_guild(self) -> int | None:
        """The guild whose settings apply: only one that added the bot itself."""
        return self.guild_id if self.install is InstallContext.GUILD else None


@dataclass(frozen=True)
class Admission:
    """A request that passed the checks (`Beautifier.precheck`), with what they looked up."""

    origin: Origin
    media: Media
    limits: Limits  # the bot's, narrowed by the guild's
    default_model: str | None  # the user's choice, else the guild's
    max_clip_seconds: float | None  # the guild's cap on clip length, if it set one


class Beautifier:
    """Runs beautify requests through the fair queue and the engine, logging each one."""

    def __init__(
        self,
        engine: EngineClient,
        db: Database,
        requests: RequestLog,
        queue: FairQueue,
        limits: Limits,
        catalog: ModelCatalog,
        finder: MediaFinder | None = None,
        timer: Timer = time.perf_counter,
    ) -> None:
        self.engine = engine
        self.db = db
        self.requests = requests
        self.queue = queue
        self.limits = limits
        self.catalog, self.timer = catalog, timer
        self.finder = finder or MediaFinder()

    async def precheck(self, origin: Origin, media: Media) -> Admission:
        """Refuse at once (before deferring) what would be refused anyway; the one check."""
        async with self.db.sessions() as session:
            chosen = await user_default_model(session, origin.user_id)
            guild = None
            if origin.settings_guild is not None:
                guild = await find_guild_settings(session, origin.settings_guild)
            used = 0
            if guild is not None and guild.requests_per_user_per_hour:
                since = self.requests.clock() - timedelta(hours=1)
                used = await count_user_requests(
                    session, origin.user_id, guild.guild_id, since=since
                )
        limits = self._limits_for(guild)
        check_media(media, limits)
        self.queue.check(origin.user_id)
        if guild is not None and guild.requests_per_user_per_hour:
            allowed = guild.requests_per_user_per_hour
            if used >= allowed:
                raise BusyError(f"This server allows {allowed} requests per hour each; try later.")
        return Admission(
            origin,
            media,
            limits,
            default_model=chosen or (guild.default_model if guild else None),
            max_clip_seconds=guild.max_clip_seconds if guild else None,
        )

    def _limits_for(self, guild: GuildSettings | None) -> Limits:
        if guild is None or not guild.max_image_bytes:
            return self.limits
        cap = min(self.limits.max_image_bytes, guild.max_image_bytes)
        return replace(self.limits, max_image_bytes=cap, max_clip_bytes=cap)

    async def beautify(
        self,
        admission: Admission,
        params: TranslateParams,
        delivery: Delivery,
        view: ViewFactory | None = None,
    ) -> None:
        """Log, queue and run one admitted request; its outcome (with `view`) goes to `delivery`."""
        params = replace(
            params,
            model=params.model or admission.default_model,
            max_seconds=admission.max_clip_seconds,
        )

        async def produce(data: bytes, request_id: str) -> Translated:
            relay = ProgressRelay(delivery)
            limit = delivery.filesize_limit
            return await self.engine.translate(data, params, request_id, limit, relay)

        await self._submit(admission, params, delivery, produce, view)

    async def compare(self, admission: Admission, delivery: Delivery) -> None:
        """One image through every served model, in one labelled grid (drawn by the engine)."""
        models = [f"{m.name}@{m.version}" for m in await self.engine.models() if m.served]

        async def produce(data: bytes, request_id: str) -> Translated:
            limit = delivery.filesize_limit
            return await self.engine.compare(data, models, request_id, limit)

        params = TranslateParams(model="compare")
        await self._submit(admission, params, delivery, produce)

    async def _submit(
        self,
        admission: Admission,
        params: TranslateParams,
        delivery: Delivery,
        produce: Produce,
        view: ViewFactory | None = None,
    ) -> None:
        origin = admission.origin
        request_id = await self.requests.create(self._new_request(admission, params))
        watcher: asyncio.Task[None] | None = None

        async def work() -> None:
            if watcher is not None:  # its last "position" edit lands before "working"
                await watcher
            await self._work(request_id, admission, params, produce, delivery, view)

        try:
            # The queue admits again: it may have filled while the caller deferred.
            job = self.queue.submit(origin.user_id, work)
        except BotError as exc:
            await self.requests.finish(request_id, RequestStatus.CANCELLED, reason=str(exc))
            await delivery.failure(str(exc))
            return
        watcher = asyncio.create_task(self._show_position(job, delivery))
        try:
            await job.result
        finally:
            watcher.cancel()  # a job cancelled while waiting never starts: stop watching it

    async def _show_position(self, job: Job, delivery: Delivery) -> None:
        """Show the job's place in the queue, and each change of it, until the job starts."""
        shown = 0
        while True:
            change = self.queue.changed()
            position = self.queue.position(job)
            if position == 0:
                return
            if position != shown:
                shown = position
                try:
                    await delivery.progress(f"⏳ Queued: position {position}.")
                except discord.HTTPException as exc:
                    log.debug("position edit failed: %s", exc)
            await change.wait()

    def _new_request(self, admission: Admission, params: TranslateParams) -> NewRequest:
        origin, media = admission.origin, admission.media
        content_type = media.content_type or ""
        kind = RequestKind.CLIP if content_type.startswith("video/") else RequestKind.IMAGE
        return NewRequest(
            user_id=origin.user_id,
            source=origin.source,
            kind=kind,
            model=params.model or "default",
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            message_id=origin.message_id,
            install=origin.install,
            channel_kind=origin.channel_kind,
            parameters={"k": params.k, "panels": params.panels, "source": media.to_dict()},
            input_bytes=media.size,
            width=media.width,
            height=media.height,
        )

    async def _work(
        self,
        request_id: int,
        admission: Admission,
        params: TranslateParams,
        produce: Produce,
        delivery: Delivery,
        make_view: ViewFactory | None,
    ) -> None:
        await self.requests.start(request_id)
        started = self.timer()
        try:
            await delivery.progress("🎨 Working on it…")
            data = await download(admission.media, admission.limits, self.finder)
            result = await produce(data, str(request_id))
            seconds = self.timer() - started
            made_by = await self.catalog.find(result.model)
            segmenter = segmenter_as_run(made_by.segmenter, params.k) if made_by else None
            file = discord.File(io.BytesIO(result.data), result.filename)
            view = await make_view(request_id, params, result) if make_view else None
            line = result_line(result, segmenter, seconds, request_id)
            message_id = await delivery.result(line, file, view)
        except Exception as exc:
            await self._fail(request_id, exc, delivery)
            return
        outcome = Outcome(
            model=result.model.name if result.model else None,
            model_version=result.model.version if result.model else None,
            segmenter=segmenter,
            result_message_id=message_id,
            input_hash=input_hash(data),
            duration_s=result.duration_s,
            kind=RequestKind.CLIP if result.kind == "clip" else RequestKind.IMAGE,
        )
        await self.requests.finish(
            request_id, output_bytes=len(result.data), stages={"total": seconds}, outcome=outcome
        )

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


def format_text(result: Translated) -> str:
    """What a clip came back as ("animated GIF · ", "MP4 · "); nothing for an image."""
    if result.kind != "clip":
        return ""
    if result.format == "gif":
        return "animated GIF · "
    return f"MP4 ({result.format_note}) · " if result.format_note else "MP4 · "


def result_line(result: Translated, segmenter: str | None, seconds: float, request_id: int) -> str:
    """The one short line under a result: what made it, and how long it took."""
    model = result.model.label if result.model else "every model"
    made_by = " · ".join(part for part in (model, segmenter) if part)
    text = f"-# {made_by} · {format_text(result)}{seconds:.1f} s · request #{request_id}"
    if result.quality_reduced:
        text += "\n-# quality lowered to fit: " + "; ".join(result.notes)
    return text
