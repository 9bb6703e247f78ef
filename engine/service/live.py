"""Live camera sessions over a WebSocket: the newest frame wins, each session keeps its colours.

`GET /v1/live?model=&k=&panels=&size=` upgrades to a WebSocket (subprotocol `beautynet.live`).
The client sends binary messages: a 4-byte big-endian frame number, then one encoded image
(JPEG, PNG or WebP) of at most `live_frame_bytes`. The server answers binary messages: the
same frame number, then a JPEG of the interpretation (segmentation | interpretation with
panels=3); a frame it could not translate gets a text message `{"error", "status", "frame"}`,
and a session it ends gets `{"error", "status"}` before the close frame. A model version that
must be loaded first (the session's, or one promoted while it runs) is announced with the text
messages `{"event": "loading", "model": "nature v7"}`, then `{"event": "ready", "model": ...}`
once it is loaded: a client holds its frames in between, so none is dropped while the model
loads. Clients ignore events they do not know.

A frame that arrives while the engine is busy with this session takes the place of any
frame already waiting, so latency never builds up when the engine is slower than the
camera. Up to the model's runtime `streams` frames of one session are translated at once (one
decoding and segmenting while another is in the network), so a client that keeps a few
frames unanswered sees frames at the rate the cores allow; an answer that comes after a
newer frame's is dropped rather than shown out of order. Each session warm-starts k-means
from the newest state it has (its previous frame, or the one before), so colours do not
jump.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass, field

import torch
from aiohttp import WSMsgType, web
from PIL import Image

from engine.core import Engine
from engine.models import ModelSpec
from engine.pipeline import ImageTranslator, TranslateOptions, Translation

from . import keys
from .middlewares import error_status
from .views import parse_params

log = logging.getLogger(__name__)

PROTOCOL = "beautynet.live"
FRAME_NUMBER = struct.Struct(">I")
MAX_FRAME_PIXELS = 4_000_000  # a camera frame, not a photo: 2560x1440 at most
JPEG_QUALITY = 85
CLOSE_BUSY, CLOSE_POLICY, CLOSE_IDLE = 1013, 1008, 1000  # RFC 6455 close codes


@dataclass
class _Session:
    """One camera: its options, its newest unanswered frame and its segmenter state."""

    model: str | None
    options: TranslateOptions
    streams: int  # frames translated at once: the model's runtime streams
    latest: tuple[int, bytes] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    label: str = ""  # the model version the state belongs to
    state: torch.Tensor | None = None
    state_frame: int = -1  # the frame the state comes from
    answered: int = -1  # the newest frame answered: an older answer would go back in time


async def _end(ws: web.WebSocketResponse, code: int, status: int, message: str) -> None:
    """Say why the session ends, then close it (close reasons are at most 123 bytes)."""
    if not ws.closed:
        await ws.send_json({"error": message, "status": status})
        await ws.close(code=code, message=message.encode()[:123])


async def live(request: web.Request) -> web.StreamResponse:
    """GET /v1/live: a live camera session (see the module docstring for the protocol)."""
    config, sessions = request.app[keys.CONFIG], request.app[keys.LIVE_SESSIONS]
    ws = web.WebSocketResponse(
        protocols=(PROTOCOL,),
        max_msg_size=config.live_frame_bytes + FRAME_NUMBER.size,
        heartbeat=30.0,
    )
    if not ws.can_prepare(request).ok:
        raise web.HTTPUpgradeRequired(reason="this endpoint is a WebSocket; connect with one")
    await ws.prepare(request)
    if not sessions.try_open():
        busy = f"the engine is busy: {sessions.capacity} live sessions are running; try later"
        await _end(ws, CLOSE_BUSY, 503, busy)
        return ws
    try:
        model, options = parse_params(dict(request.query))
        # An unknown model, or k for an edges model, is said now rather than at every frame.
        translator = await _translator(request.app, ws, model)
        translator.segmenter_for(options)
    except Exception as exc:
        status, message = error_status(exc)
        await _end(ws, CLOSE_POLICY, status, message)
        sessions.close()
        return ws
    try:
        await _serve(request.app, ws, _Session(model, options, translator.runner.streams))
    finally:
        sessions.close()
    return ws


async def _translator(
    app: web.Application, ws: web.WebSocketResponse, model: str | None
) -> ImageTranslator:
    """The translator for `model`, announcing a load (seconds) to the client while it runs."""
    loop, pool, engine = asyncio.get_running_loop(), app[keys.CPU_POOL], app[keys.ENGINE]
    found = await loop.run_in_executor(pool, _loaded_translator, engine, model)
    if isinstance(found, ImageTranslator):
        return found
    await ws.send_json({"event": "loading", "model": found})
    translator = await loop.run_in_executor(pool, engine.translator, model)
    await ws.send_json({"event": "ready", "model": translator.model.spec.label})
    return translator


def _loaded_translator(engine: Engine, model: str | None) -> ImageTranslator | str:
    """The translator if its version is loaded, else the label of the version to load."""
    loading = engine.to_load(model)
    return engine.translator(model) if loading is None else loading


async def _serve(app: web.Application, ws: web.WebSocketResponse, session: _Session) -> None:
    """Read frames until the client leaves or idles; a second task translates the newest."""
    idle_s = app[keys.CONFIG].live_idle_s
    worker = asyncio.create_task(_answer_frames(app, ws, session))
    try:
        while not ws.closed:
            try:
                message = await ws.receive(timeout=idle_s)
            except TimeoutError:
                await _end(ws, CLOSE_IDLE, 408, f"no frame for {idle_s:g} s; session closed")
                return
            if message.type == WSMsgType.BINARY:
                await _arrived(app, ws, session, message.data)
            elif message.type == WSMsgType.TEXT:
                await ws.send_json({"error": "send frames as binary messages", "status": 400})
            else:  # closed by the client, or by aiohttp (a frame over the size limit: 1009)
                return
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def _arrived(
    app: web.Application, ws: web.WebSocketResponse, session: _Session, data: bytes
) -> None:
    if len(data) <= FRAME_NUMBER.size:
        message = "a frame is a 4-byte frame number followed by an image"
        await ws.send_json({"error": message, "status": 400})
        return
    if session.latest is not None:
        app[keys.LIVE_SESSIONS].dropped += 1
    (number,) = FRAME_NUMBER.unpack_from(data)
    session.latest = (number, data[FRAME_NUMBER.size :])
    session.arrived.set()


async def _answer_frames(app: web.Application, ws: web.WebSocketResponse, session: _Session):
    """Translate up to `session.streams` of this session's newest frames at once."""
    await asyncio.gather(*(_answer_newest(app, ws, session) for _ in range(session.streams)))


async def _answer_newest(app: web.Application, ws: web.WebSocketResponse, session: _Session):
    """Translate the newest waiting frame, answer it, repeat; frame errors are told, not fatal."""
    while True:
        await session.arrived.wait()
        session.arrived.clear()
        if session.latest is None:
            continue
        number, data = session.latest
        session.latest = None
        try:
            reply = await _translate_frame(app, ws, session, number, data)
        except Exception as exc:
            status, message = error_status(exc)
            await ws.send_json({"error": message, "status": status, "frame": number})
            continue
        if number < session.answered:  # a newer frame's answer went out first
            app[keys.LIVE_SESSIONS].dropped += 1
            continue
        session.answered = number
        app[keys.LIVE_SESSIONS].answered += 1
        await ws.send_bytes(FRAME_NUMBER.pack(number) + reply)


def _decode_frame(app: web.Application, data: bytes) -> Image.Image:
    """Decode with the engine's checks, capped at camera sizes."""
    max_bytes = app[keys.CONFIG].live_frame_bytes
    return app[keys.ENGINE].decode(data, max_bytes=max_bytes, max_pixels=MAX_FRAME_PIXELS)


def _encode_reply(translation: Translation, panels: int, model: ModelSpec) -> bytes:
    """The interpretation (or segmentation | interpretation): the page shows the camera."""
    encoded = Engine.encode(
        translation, panels, model, "jpeg", original=False, quality=JPEG_QUALITY
    )
    return encoded.data


async def _translate_frame(
    app: web.Application, ws: web.WebSocketResponse, session: _Session, number: int, data: bytes
) -> bytes:
    """decode -> (batched, with this session's state) translate -> JPEG."""
    loop, pool, metrics = asyncio.get_running_loop(), app[keys.CPU_POOL], app[keys.METRICS]
    start = time.monotonic()
    image = await loop.run_in_executor(pool, _decode_frame, app, data)
    translator = await _translator(app, ws, session.model)  # sees promotions at once
    label = translator.model.spec.label
    if label != session.label:  # another version (k may differ): start its colours afresh
        session.label, session.state, session.state_frame = label, None, -1
    translation = await app[keys.BATCHER].translate(
        translator, image, session.options, session.state
    )
    if number > session.state_frame and label == session.label:
        session.state, session.state_frame = translation.state, number
    reply = await loop.run_in_executor(
        pool, _encode_reply, translation, session.options.panels, translator.model.spec
    )
    metrics.observe_stage("live", time.monotonic() - start)
    return reply
