"""Live camera sessions over the WebSocket: answers, newest frame wins, state, limits, auth."""

from __future__ import annotations

import base64
import struct

import aiohttp
import pytest
from yarl import URL

from engine.imaging import decode_image, encode_image
from engine.service import keys
from engine.service.live import PROTOCOL

from .conftest import TOKEN, Service, wait_until

NUMBER = struct.Struct(">I")


def frame(number: int, data: bytes) -> bytes:
    return NUMBER.pack(number) + data


def token_protocol(token: str) -> str:
    return "bearer." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


async def connect(service: Service, query: str = "", **kwargs: object):
    return await service.session.ws_connect(
        f"{service.url}/v1/live{query}", protocols=(PROTOCOL,), **kwargs
    )


@pytest.fixture
def jpeg(photo) -> bytes:
    return encode_image(photo(96, 64), "jpeg")


async def received(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """The next message that is not an event (a model loading, then ready)."""
    while True:
        message = await ws.receive(timeout=30)
        if message.type != aiohttp.WSMsgType.TEXT or "event" not in message.json():
            return message


async def said(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    message = await received(ws)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return message.json()


async def answer(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, bytes]:
    message = await received(ws)
    assert message.type == aiohttp.WSMsgType.BINARY, message
    (number,) = NUMBER.unpack_from(message.data)
    return number, message.data[NUMBER.size :]


async def test_a_frame_comes_back_interpreted(service: Service, jpeg: bytes) -> None:
    async with await connect(service, "?model=tiny@1") as ws:
        assert ws.protocol == PROTOCOL
        await ws.send_bytes(frame(7, jpeg))
        number, body = await answer(ws)
    assert number == 7
    assert decode_image(body).size == (64, 43)  # the interpretation alone, at the model size


async def test_three_panels_add_the_segmentation(service: Service, jpeg: bytes) -> None:
    async with await connect(service, "?panels=3") as ws:
        await ws.send_bytes(frame(1, jpeg))
        _, body = await answer(ws)
    assert decode_image(body).size == (2 * 64 + 4, 43)


async def test_the_newest_frame_wins(start_service, jpeg: bytes) -> None:
    # Each frame waits half a second in the batcher: a burst of 20 must collapse, not queue.
    service = await start_service(batch_wait_s=0.5)
    async with await connect(service) as ws:
        for number in range(20):
            await ws.send_bytes(frame(number, jpeg))
        answered = [(await answer(ws))[0]]
        while answered[-1] != 19:
            answered.append((await answer(ws))[0])
    assert len(answered) <= 2 and answered == sorted(set(answered))
    sessions = service.app[keys.LIVE_SESSIONS]
    assert (sessions.answered, sessions.dropped) == (len(answered), 20 - len(answered))


async def test_each_session_keeps_its_own_state(service: Service, jpeg: bytes, photo) -> None:
    batcher = service.app[keys.BATCHER]
    calls: list[tuple[int, object]] = []
    original = batcher.translate

    async def spy(translator, image, options, state=None):
        result = await original(translator, image, options, state)
        calls.append((id(image), state, result.state))
        return result

    batcher.translate = spy  # type: ignore[method-assign]
    other = encode_image(photo(96, 64, seed=3), "jpeg")
    async with await connect(service) as first, await connect(service) as second:
        await first.send_bytes(frame(0, jpeg))
        await answer(first)
        await second.send_bytes(frame(0, other))
        await answer(second)
        await first.send_bytes(frame(1, other))
        await answer(first)
    (_, fresh_a, state_a), (_, fresh_b, _), (_, warm, _) = calls
    assert fresh_a is None and fresh_b is None  # a session starts afresh
    assert warm is state_a  # the first session's second frame starts from its first
    assert state_a is not None and tuple(state_a.shape) == (1, 7, 3)


def loading(label: str) -> list[dict[str, str]]:
    return [{"event": "loading", "model": label}, {"event": "ready", "model": label}]


async def test_a_model_that_must_load_is_announced(service: Service, jpeg: bytes) -> None:
    async with await connect(service, "?model=tiny@1") as ws:
        events = [await ws.receive_json(timeout=30) for _ in range(2)]
        await ws.send_bytes(frame(1, jpeg))
        assert (await ws.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY
    assert events == loading("tiny v1")
    async with await connect(service, "?model=tiny@1") as ws:  # loaded: nothing to announce
        await ws.send_bytes(frame(2, jpeg))
        assert (await ws.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY


async def test_a_version_promoted_mid_session_is_announced(service: Service, jpeg: bytes) -> None:
    engine = service.app[keys.ENGINE]
    engine.promote("tiny", 1)
    async with await connect(service, "?model=tiny") as ws:
        assert [await ws.receive_json(timeout=30) for _ in range(2)] == loading("tiny v1")
        await ws.send_bytes(frame(1, jpeg))
        assert (await ws.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY
        engine.promote("tiny", 2)
        await ws.send_bytes(frame(2, jpeg))
        events = [await ws.receive_json(timeout=30) for _ in range(2)]
        last = await ws.receive(timeout=30)
    assert events == loading("tiny v2")
    assert last.type == aiohttp.WSMsgType.BINARY and NUMBER.unpack_from(last.data) == (2,)


async def test_a_bad_frame_is_told_and_the_session_goes_on(service: Service, jpeg: bytes) -> None:
    async with await connect(service) as ws:
        await ws.send_bytes(frame(3, b"this is not an image at all\n"))
        told = await said(ws)
        await ws.send_bytes(frame(4, jpeg))
        number, _ = await answer(ws)
    assert told == {"error": "not an image (could not identify format)", "status": 400, "frame": 3}
    assert number == 4


async def test_text_and_headerless_messages_are_refused(service: Service) -> None:
    async with await connect(service) as ws:
        await ws.send_str("hello")
        assert "binary" in (await said(ws))["error"]
        await ws.send_bytes(b"\x00\x01")
        assert "4-byte frame number" in (await said(ws))["error"]


async def test_a_frame_over_the_limit_closes_the_session(start_service, jpeg: bytes) -> None:
    service = await start_service(live_frame_bytes=1000)
    assert len(jpeg) > 1000
    async with await connect(service) as ws:
        await ws.send_bytes(frame(0, jpeg))
        message = await received(ws)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1009  # message too big


async def test_sessions_are_bounded(start_service, jpeg: bytes) -> None:
    service = await start_service(live_sessions=1)
    async with await connect(service) as first:
        async with await connect(service) as second:
            told = await second.receive_json(timeout=30)
            assert (await second.receive(timeout=30)).type == aiohttp.WSMsgType.CLOSE
            assert second.close_code == 1013
        assert told["status"] == 503 and "busy" in told["error"]
        await first.send_bytes(frame(0, jpeg))  # the first one still works
        assert (await answer(first))[0] == 0
    async with await connect(service) as again:  # and its place is given back
        await again.send_bytes(frame(1, jpeg))
        assert (await answer(again))[0] == 1


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [("?model=nope", 404, "no model called"), ("?k=99", 400, "k must be between")],
)
async def test_bad_options_end_the_session(service: Service, query, status, fragment) -> None:
    async with await connect(service, query) as ws:
        told = await said(ws)
        assert (await ws.receive(timeout=30)).type == aiohttp.WSMsgType.CLOSE
    assert told["status"] == status and fragment in told["error"]
    assert ws.close_code == 1008


async def test_an_idle_session_is_closed(start_service) -> None:
    service = await start_service(live_idle_s=0.2)
    async with await connect(service) as ws:
        told = await said(ws)
        assert (await ws.receive(timeout=30)).type == aiohttp.WSMsgType.CLOSE
    assert "no frame" in told["error"]
    await wait_until(lambda: service.app[keys.LIVE_SESSIONS].open == 0)


async def test_the_token_can_come_as_a_subprotocol(service: Service, jpeg: bytes) -> None:
    url = f"{service.url}/v1/live"
    async with aiohttp.ClientSession() as browser:
        for protocols in [(PROTOCOL,), (PROTOCOL, token_protocol("wrong")), (PROTOCOL, "bearer.%")]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await browser.ws_connect(url, protocols=protocols)
            assert refused.value.status == 401
        async with browser.ws_connect(url, protocols=(PROTOCOL, token_protocol(TOKEN))) as ws:
            assert ws.protocol == PROTOCOL
            await ws.send_bytes(frame(0, jpeg))
            assert (await answer(ws))[0] == 0


async def test_a_plain_get_is_told_to_upgrade(service: Service) -> None:
    async with service.session.get(f"{service.url}/v1/live") as response:
        assert response.status == 426
        assert "WebSocket" in (await response.json())["error"]


async def test_the_page_is_public_and_self_contained(service: Service) -> None:
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{service.url}/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            html = await response.text()
        assert "http://" not in html and "https://" not in html  # nothing from elsewhere
        for asset in ("app.js", "style.css"):
            async with anonymous.get(f"{service.url}/static/{asset}") as response:
                assert response.status == 200, asset
        outside = URL(f"{service.url}/static/%2e%2e/app.py", encoded=True)
        async with anonymous.get(outside) as response:
            assert response.status in (403, 404)  # public, yet nothing outside the folder


async def test_two_frames_of_a_session_run_at_once_and_answer_in_order(
    start_service, two_streams, jpeg: bytes
) -> None:
    service = await start_service(max_batch=1, batch_wait_s=0.0)
    async with await connect(service) as ws:
        await ws.send_bytes(frame(1, jpeg))
        await wait_until(lambda: two_streams.n_waiting == 1)  # frame 1 is in the network
        await ws.send_bytes(frame(2, jpeg))
        answered = [(await answer(ws))[0]]
        if answered[0] == 1:  # the second frame's answer may overtake the first's: then only 2
            answered.append((await answer(ws))[0])
        sessions = service.app[keys.LIVE_SESSIONS]
        await wait_until(lambda: sessions.answered + sessions.dropped == 2)  # 1: sent or dropped
    assert answered in ([1, 2], [2])
    assert sessions.answered == len(answered)
