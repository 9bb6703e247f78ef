"""One beautify request from attachment to result: checks, the durable queue, engine, reply.

A request is admitted into the database's queue (`infra.db.jobs`) with what to run and
where to answer, then run by whichever process the dispatcher gives it to: this one, the
next one after a restart, or another one sharing PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta

import discord

from bot.catalog import ModelCatalog, segmenter_as_run
from bot.delivery import Answer, Delivery, open_delivery
from bot.engine_client import EngineClient, Translated, TranslateParams
from bot.errors import GENERIC_FAILURE, BusyError, seconds_text, user_message
from bot.media import Limits, Media, MediaFinder, check_media, download
from infra.db.dispatch import Dispatcher, RetryLater
from infra.db.jobs import Claimed, JobStore, Refusal
from infra.db.models import (
    ChannelKind,
    GuildSettings,
    InstallContext,
    Request,
    RequestKind,
    RequestSource,
    RequestStatus,
)
from infra.db.preferences import find_guild_settings, user_default_model
from infra.db.queries import count_user_requests
from infra.db.requests import NewRequest, Outcome, RequestLog, input_hash
from infra.db.session import Database

log = logging.getLogger(__name__)

# Builds the buttons under a result: (request id, params, result) -> view; given by the caller.
ViewFactory = Callable[[int, TranslateParams, Translated], Awaitable[discord.ui.View | None]]
Timer = Callable[[], float]
PROGRESS_EVERY_S = 2.0
POSITION_POLL_S = 2.0  # other processes move the queue too: look again this often
BEAUTIFY, COMPARE = "beautify", "compare"


class InputGoneError(Exception):
    """What the request needs disappeared while it waited (its message, its channel)."""


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
    """Admits beautify requests into the durable queue and runs them, logging each one."""

    def __init__(
        self,
        engine: EngineClient,
        db: Database,
        requests: RequestLog,
        jobs: JobStore,
        dispatcher: Dispatcher,
        limits: Limits,
        catalog: ModelCatalog,
        finder: MediaFinder | None = None,
        timer: Timer = time.perf_counter,
        attempts: int = 3,
    ) -> None:
        self.engine = engine
        self.db = db
        self.requests = requests
        self.jobs, self.dispatcher = jobs, dispatcher
        self.limits = limits
        self.catalog, self.timer = catalog, timer
        self.finder = finder or MediaFinder()
        self.attempts = attempts  # a job failing (or killing its process) more often fails
        self.client: discord.Client | None = None  # set by `bind`
        self.views: ViewFactory | None = None  # the buttons under results (images extension)
        self._waiting: dict[int, Waiting] = {}  # jobs admitted here that have not started
        self._changed = asyncio.Event()

    def bind(self, client: discord.Client) -> None:
        """The client that answers (any request: those of earlier processes too)."""
        self.client = client

    async def close(self) -> None:
        """Stop following queue positions."""
        for waiting in self._waiting.values():
            if waiting.watcher is not None:
                waiting.watcher.cancel()

    def open(self, request_id: int | None, answer: Answer) -> Delivery:
        """The delivery of an answer; a reply, once posted, is kept with the job."""
        assert self.client is not None, "bind() the beautifier to the bot first"

        async def remember(changed: Answer) -> None:
            if request_id is not None:
                await self.jobs.remember_answer(request_id, changed.to_dict())

        return open_delivery(self.client, answer, remember)

    # ---- admission ---------------------------------------------------------------
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
        try:
            await self.jobs.check(origin.user_id)
        except Refusal as refusal:
            raise busy_error(refusal) from None
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

    async def beautify(self, admission: Admission, params: TranslateParams, answer: Answer) -> None:
        """Queue one admitted request; its outcome (with buttons) goes to `answer`."""
        params = replace(
            params,
            model=params.model or admission.default_model,
            max_seconds=admission.max_clip_seconds,
        )
        await self._submit(admission, params, answer, BEAUTIFY)

    async def compare(self, admission: Admission, answer: Answer) -> None:
        """One image through every served model, in one labelled grid (drawn by the engine)."""
        await self._submit(admission, TranslateParams(model="compare"), answer, COMPARE)

    async def _submit(
        self, admission: Admission, params: TranslateParams, answer: Answer, operation: str
    ) -> None:
        task = {
            "operation": operation,
            "params": asdict(params),
            "media": admission.media.to_dict(),
            "limits": asdict(admission.limits),
        }
        new = self._new_request(admission, params)
        try:
            # Admitted again, atomically: the queue may have filled while the caller deferred.
            admitted = await self.jobs.admit(new, task, answer.to_dict())
        except Refusal as refusal:
            await self.open(None, answer).failure(str(busy_error(refusal)))
            return
        request_id = admitted.request_id
        waiting = self._waiting[request_id] = Waiting()
        delivery = self.open(request_id, answer)
        try:  # the first status is shown (and a reply kept) before any process may start it
            shown = await self._show_position(request_id, delivery, shown=0)
        finally:
            waiting.announced.set()
        await self.dispatcher.submitted(admitted)
        self._note_change()
        waiting.watcher = asyncio.create_task(self._follow_position(request_id, delivery, shown))

    async def _show_position(self, request_id: int, delivery: Delivery, shown: int) -> int:
        """Show the job's place in the queue when it changed; returns the place shown."""
        position = await self.jobs.position(request_id)
        waiting = self._waiting.get(request_id)
        if position in (0, shown) or waiting is None or waiting.started:
            return shown
        try:
            await delivery.progress(f"⏳ Queued: position {position}.")
        except discord.HTTPException as exc:
            log.debug("position edit failed: %s", exc)
        return position

    async def _follow_position(self, request_id: int, delivery: Delivery, shown: int) -> None:
        """Follow the job's place until it starts (here, or in another process)."""
        while (waiting := self._waiting.get(request_id)) and not waiting.started:
            change = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), POSITION_POLL_S)
            if await self.jobs.position(request_id) == 0:
                self._waiting.pop(request_id, None)  # started elsewhere, or ended
                return
            shown = await self._show_position(request_id, delivery, shown)

    def _note_change(self) -> None:
        # Watchers hold the current event; a fresh one is armed for the change after this.
        self._changed.set()
        self._changed = asyncio.Event()

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

    # ---- running -----------------------------------------------------------------
    async def run_job(self, request_id: int) -> None:
        """Run one queued request to its end (the dispatcher's handler); RetryLater when it
        failed and goes back in line."""
        waiting = self._waiting.pop(request_id, None)
        if waiting is not None:  # admitted here: its last position edit lands first
            await waiting.announced.wait()
            waiting.started = True
            self._note_change()
            if waiting.watcher is not None:
                await waiting.watcher
        claimed = await self.jobs.claim(request_id)
        if claimed is None:
            return  # it ended already
        self._note_change()
        try:
            delivery = self.open(request_id, Answer.from_dict(claimed.job.answer))
            if claimed.request.attempts > self.attempts:
                await self._give_up(claimed.request, delivery)
                return
            await self._work(claimed, delivery)
        finally:
            self._note_change()

    async def _give_up(self, request: Request, delivery: Delivery) -> None:
        """A job whose attempts all ended with its process: settled, not tried again."""
        reason = f"gave up after {self.attempts} attempts: each one stopped the bot"
        log.error("request %s: %s", request.id, reason)
        await self.requests.finish(request.id, RequestStatus.FAILED, reason=reason)
        await self._tell(request.id, delivery, GENERIC_FAILURE)

    async def _work(self, claimed: Claimed, delivery: Delivery) -> None:
        request, task = claimed.request, claimed.job.task
        params = TranslateParams(**task["params"])
        started = self.timer()
        try:
            await self._check_source(request)
            await delivery.progress("🎨 Working on it…")
            limits = Limits(**task["limits"])
            data = await download(Media.from_dict(task["media"]), limits, self.finder)
            result = await self._produce(task["operation"], data, params, request.id, delivery)
            seconds = self.timer() - started
            made_by = await self.catalog.find(result.model)
            segmenter = segmenter_as_run(made_by.segmenter, params.k) if made_by else None
            file = discord.File(io.BytesIO(result.data), result.filename)
            view = await self._view(task["operation"], request.id, params, result)
            line = result_line(result, segmenter, seconds, request.id)
            message_id = await delivery.result(line, file, view)
        except InputGoneError as gone:
            await self._gone(request.id, str(gone), delivery)
            return
        except Exception as exc:
            await self._failed(claimed, exc, delivery)
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
            request.id, output_bytes=len(result.data), stages={"total": seconds}, outcome=outcome
        )

    async def _check_source(self, request: Request) -> None:
        """A message's request needs its message still there (to reply to it)."""
        if request.source is not RequestSource.MESSAGE or request.message_id is None:
            return
        assert self.client is not None and request.channel_id is not None
        channel = self.client.get_partial_messageable(request.channel_id)
        try:
            await channel.fetch_message(request.message_id)
        except discord.NotFound as exc:
            raise InputGoneError("its message was deleted while it waited") from exc
        except discord.HTTPException as exc:  # Forbidden among them: the channel is closed
            raise InputGoneError(f"its channel cannot be read any more ({exc.status})") from exc

    async def _produce(
        self,
        operation: str,
        data: bytes,
        params: TranslateParams,
        request_id: int,
        delivery: Delivery,
    ) -> Translated:
        limit = delivery.filesize_limit
        if operation == COMPARE:
            models = [f"{m.name}@{m.version}" for m in await self.engine.models() if m.served]
            return await self.engine.compare(data, models, str(request_id), limit)
        relay = ProgressRelay(delivery)
        return await self.engine.translate(data, params, str(request_id), limit, relay)

    async def _view(
        self, operation: str, request_id: int, params: TranslateParams, result: Translated
    ) -> discord.ui.View | None:
        if operation != BEAUTIFY or self.views is None:
            return None
        return await self.views(request_id, params, result)

    async def _gone(self, request_id: int, why: str, delivery: Delivery) -> None:
        log.info("request %s cancelled: %s", request_id, why)
        await self.requests.finish(request_id, RequestStatus.CANCELLED, reason=f"input gone: {why}")
        await self._tell(request_id, delivery, f"Skipped: {why}.")

    async def _failed(self, claimed: Claimed, exc: Exception, delivery: Delivery) -> None:
        """A user's error ends the request; an internal one is tried again, a few times."""
        request = claimed.request
        if user_message(exc) is None and request.attempts < self.attempts:
            log.warning(
                "request %s failed (attempt %d of %d), trying again",
                request.id,
                request.attempts,
                self.attempts,
                exc_info=exc,
            )
            await self.jobs.requeue(request.id, count_attempt=True)
            raise RetryLater from exc
        await self._fail(request.id, exc, delivery)

    async def _fail(self, request_id: int, exc: Exception, delivery: Delivery) -> None:
        message = user_message(exc)
        if message is None:
            log.error("request %s failed", request_id, exc_info=exc)
        else:
            log.info("request %s refused: %s", request_id, message)
        reason = (message or f"internal error: {type(exc).__name__}")[:500]
        await self.requests.finish(request_id, RequestStatus.FAILED, reason=reason)
        await self._tell(request_id, delivery, message or GENERIC_FAILURE)

    @staticmethod
    async def _tell(request_id: int, delivery: Delivery, text: str) -> None:
        try:
            await delivery.failure(text)
        except discord.HTTPException as http_error:
            log.warning("request %s: could not report its end: %s", request_id, http_error)


@dataclass(eq=False)
class Waiting:
    """A job admitted by this process that has not started: its status is followed here."""

    announced: asyncio.Event = field(default_factory=asyncio.Event)  # its first status shown
    started: bool = False
    watcher: asyncio.Task[None] | None = None


def busy_error(refusal: Refusal) -> BusyError:
    """What the person is told when the queue refuses their request."""
    if refusal.kind == "user":
        parts = [f"position {p}" if p else "running" for p in refusal.positions]
        listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        return BusyError(
            f"You already have {len(parts)} requests in the queue ({listed}); "
            "wait for one to finish.",
            refusal.wait_s,
        )
    if refusal.kind == "cooldown":
        return BusyError(f"Slow down; try again in {seconds_text(refusal.wait_s)}.", refusal.wait_s)
    return BusyError(f"I'm busy; try again in {seconds_text(refusal.wait_s)}.", refusal.wait_s)


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
    """What a clip came back as ("animated GIF · ", "MP4 · "); an image's size ("1024×768 · ")."""
    if result.kind != "clip":
        return "{}×{} · ".format(*result.panel) if result.panel else ""
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
