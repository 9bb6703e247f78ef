"""The web page in a real browser: Debian's chromium, driven by Playwright, against a real
`beautynet engine serve` (tiny models, with ENGINE_TOKEN so that the page must ask for it).

Without chromium or playwright these tests skip, except under CI=true, where they fail.
`BEAUTYNET_SCREENSHOT_DIR=docs` writes the README's screenshot (docs/page.jpg).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bench.load import free_port, wait_healthy
from engine.imaging import decode_image, encode_image
from engine.segment import EdgesConfig
from tests.conftest import GIF_DURATIONS, animation, make_clip, photo_like, write_tiny_model

from .conftest import TOKEN

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
TIMEOUT_MS = 60_000


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("chromium (apt-get install chromium)")
    return str(path)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextlib.contextmanager
def serving(data: Path) -> Iterator[str]:
    """`beautynet engine serve` on `data` (and the bundled models), needing the token."""
    port = free_port()
    env = {
        **os.environ,
        "BEAUTYNET_DATA_DIR": str(data),
        "BEAUTYNET_DEVICE": "cpu",
        "ENGINE_TOKEN": TOKEN,
        "BEAUTYNET_MAX_CLIP_SECONDS": "20",
    }
    command = [sys.executable, "-m", "beautynet", "engine", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        # In a thread: Playwright's sync API may keep an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, wait_healthy(url, process, 60)).result()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with three tiny models besides the bundled ones ("tiny-late" is loaded
    only by the test of a model that loads while the camera runs)."""
    data = tmp_path_factory.mktemp("page-data")
    write_tiny_model(data / "models", "tiny")
    write_tiny_model(data / "models", "tiny-edges", EdgesConfig())
    write_tiny_model(data / "models", "tiny-late", seed=2)
    with serving(data) as url:
        yield url


@contextlib.contextmanager
def opened(browser: Any, url: str, model: str) -> Iterator[Any]:
    """The page in a fresh context, once it has asked for the token and listed `model`."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.requested = []  # every URL the page asked for
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(url)
    page.wait_for_selector("#token-dialog[open]")  # off the bearer token, nothing is listed
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    page.wait_for_selector(f"#models [data-name='{model}']")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, service_url: str) -> Iterator[Any]:
    with opened(browser, service_url, "tiny") as page:
        yield page


def choose(page: Any, model: str) -> None:
    page.click(f"#models [data-name='{model}']")
    assert page.get_attribute(f"#models [data-name='{model}']", "aria-checked") == "true"


def natural_size(page: Any, selector: str) -> tuple[int, int]:
    width, height = page.eval_on_selector(selector, "e => [e.naturalWidth, e.naturalHeight]")
    return int(width), int(height)


def test_a_photo_comes_back_side_by_side(page: Any, service_url: str, tmp_path: Path) -> None:
    choose(page, "tiny")
    photo = tmp_path / "holiday.png"
    photo.write_bytes(encode_image(photo_like(96, 64), "png"))
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#download:not([hidden])")
    assert natural_size(page, "#result-image") == (2 * 64 + 4, 43)  # original | interpretation
    assert page.inner_text("#result-caption").endswith("tiny v1 · 64×43")  # each panel's size
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "holiday.beautynet.png"
    assert decode_image(Path(download.value.path()).read_bytes()).size == (132, 43)
    page.click("#again")
    page.check("input[name=panels][value='3']")
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#download:not([hidden])")
    assert natural_size(page, "#result-image") == (3 * 64 + 8, 43)  # | segmentation |
    assert page.get_attribute("#token-dialog", "open") is None  # asked once, not again
    assert all(url.startswith((service_url, "blob:")) for url in page.requested)


def test_a_text_file_named_png_gets_its_message(page: Any) -> None:
    choose(page, "tiny")
    dropped = page.evaluate_handle("""() => {
        const files = new DataTransfer();
        files.items.add(new File(["just some text\\n"], "notes.png", {type: "image/png"}));
        return files;
    }""")
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})  # dropped, not chosen
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "not an image (could not identify format)"
    assert page.is_visible("#drop")  # ready for another file


def test_a_clip_shows_progress_and_plays(page: Any, tmp_path: Path) -> None:
    choose(page, "tiny")
    page.evaluate("""() => {
        window.seen = [];
        const text = document.getElementById("working-text");
        new MutationObserver(() => window.seen.push(text.textContent))
            .observe(text, {childList: true, characterData: true, subtree: true});
    }""")
    clip = make_clip(tmp_path / "walk.mp4", seconds=6, fps=25, audio=False)
    page.set_input_files("#file", str(clip))
    page.wait_for_selector("#result-video:not([hidden])")
    page.wait_for_function(
        "() => { const v = document.getElementById('result-video');"
        " return v.readyState >= 2 && v.currentTime > 0; }"
    )
    seen = page.evaluate("window.seen")
    assert any(text.startswith("Frame ") and " of 150" in text for text in seen), seen
    width, height = page.eval_on_selector("#result-video", "v => [v.videoWidth, v.videoHeight]")
    assert (width, height) == (2 * 64 + 4, 42)  # even sides for H.264
    assert page.is_visible("#download")


def test_an_animated_gif_comes_back_as_an_animated_gif(page: Any, tmp_path: Path) -> None:
    """The page asks no rule of its own: the service says a GIF that moves is a clip."""
    choose(page, "tiny")
    gif = tmp_path / "dance.gif"
    gif.write_bytes(animation())
    page.set_input_files("#file", str(gif))
    page.wait_for_selector("#download:not([hidden])")
    assert page.is_hidden("#result-video")
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "dance.beautynet.gif"
    with Image.open(download.value.path()) as result:
        assert result.n_frames == len(GIF_DURATIONS)


def test_live_mode_shows_interpreted_frames_and_their_rate(page: Any) -> None:
    choose(page, "tiny")
    page.click("#tab-live")
    page.click("#live-toggle")
    page.wait_for_function(
        "() => parseFloat(document.getElementById('fps').textContent) > 0", timeout=TIMEOUT_MS
    )
    # The fake camera is 640x480: frames go at 256x192, and come back at the model's size.
    size = page.eval_on_selector("#interpretation", "c => [c.width, c.height]")
    assert size == [64, 48]
    lit = page.eval_on_selector(
        "#interpretation",
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0)",
    )
    assert lit  # something was drawn
    page.click("#live-toggle")
    assert page.inner_text("#live-toggle") == "Start the camera"
    assert page.inner_text("#fps") == "0.0 frames/s"  # not the last figure: no frames now
    assert page.inner_text("#latency") == ""


def test_live_says_a_model_is_loading_and_holds_frames_meanwhile(page: Any) -> None:
    """Issue 38: switching to a model not yet loaded shows it on the badge, and no frame
    is sent into the wait (so none is dropped); then frames flow again."""
    # What the page's sockets send and are told, in order (Chromium's DevTools report no
    # frames sent as Blobs, so the page's own WebSocket is watched from inside).
    page.evaluate(
        """() => {
            window.order = [];
            window.WebSocket = class extends WebSocket {
                constructor(...args) {
                    super(...args);
                    this.addEventListener('message', ({ data }) => {
                        if (typeof data === 'string') order.push(JSON.parse(data).event);
                    });
                }
                send(data) { order.push('frame'); super.send(data); }
            };
            window.badges = [];
            const fps = document.getElementById('fps');
            new MutationObserver(() => badges.push(fps.textContent))
                .observe(fps, { childList: true, characterData: true, subtree: true });
        }"""
    )
    choose(page, "tiny")
    page.click("#tab-live")
    page.click("#live-toggle")
    page.wait_for_function("() => parseFloat(document.getElementById('fps').textContent) > 0")
    page.evaluate("() => { order.length = 0; }")  # tiny's load, if any, is over
    choose(page, "tiny-late")  # a new session, on a model the service has not loaded
    page.wait_for_function(
        """() => {
            const at = badges.indexOf('Loading tiny-late v1…');
            return at >= 0 && badges.slice(at).some(text => parseFloat(text) > 0);
        }"""
    )
    page.click("#live-toggle")
    events = page.evaluate("() => order")
    loading, ready = events.index("loading"), events.index("ready")
    assert loading < ready and "frame" not in events[loading:ready], events
    assert "frame" in events[ready:]  # and frames went again


def test_live_panels_read_segmentation_then_interpretation(page: Any) -> None:
    """As uploads do, never mirrored: the left half on screen is the segmentation."""
    choose(page, "tiny")
    page.check("input[name=panels][value='3']")
    page.click("#tab-live")
    page.click("#live-toggle")
    # Drawn at the answers' size: two 64 x 48 panels and the gap between them.
    page.wait_for_function("() => document.getElementById('interpretation').width === 132")
    page.click("#live-toggle")  # the canvas keeps the last frame, still from now on
    drawn = page.eval_on_selector(
        "#interpretation",
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)",
    )
    width, height = page.eval_on_selector("#interpretation", "c => [c.width, c.height]")
    assert height == 48
    data = np.asarray(drawn, dtype=np.float64).reshape(height, width, 4)[..., :3]
    shown = np.asarray(Image.open(io.BytesIO(page.locator("#interpretation").screenshot())))
    shown = shown[..., :3].astype(np.float64)
    # The canvas is letterboxed (object-fit: contain): compare a band across its middle.
    band = shown[shown.shape[0] * 2 // 5 : shown.shape[0] * 3 // 5]
    screen = [
        band[:, : band.shape[1] // 2].mean((0, 1)),
        band[:, band.shape[1] // 2 :].mean((0, 1)),
    ]
    halves = [data[:, : width // 2].mean((0, 1)), data[:, width // 2 :].mean((0, 1))]
    assert np.abs(halves[0] - halves[1]).sum() > 10  # the two panels differ
    as_drawn = np.abs(screen[0] - halves[0]).sum() + np.abs(screen[1] - halves[1]).sum()
    mirrored = np.abs(screen[0] - halves[1]).sum() + np.abs(screen[1] - halves[0]).sum()
    assert as_drawn < mirrored, (screen, halves)
    preview = page.eval_on_selector("#camera", "v => getComputedStyle(v).transform")
    assert preview == "matrix(-1, 0, 0, 1, 0, 0)"  # the camera preview is a mirror


def test_the_k_slider_reaches_what_the_api_takes(page: Any, service_url: str) -> None:
    with urllib.request.urlopen(f"{service_url}/openapi.json", timeout=30) as answer:
        document = json.load(answer)
    schema = document["paths"]["/v1/translate"]["post"]["requestBody"]["content"]
    k = schema["multipart/form-data"]["schema"]["properties"]["k"]
    assert page.get_attribute("#k", "min") == str(k["minimum"])
    assert page.get_attribute("#k", "max") == str(k["maximum"])


def test_the_bundled_default_model_on_a_photo(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Only the bundled models, the default one, an everyday photo: the README's screenshot."""
    from beautynet.cli.run import sample_images

    folder = tmp_path_factory.mktemp("bundled")
    photo = folder / "astronaut.jpg"
    photo.write_bytes(encode_image(dict(sample_images())["astronaut"], "jpeg"))
    with serving(folder / "data") as url, opened(browser, url, "nature") as page:
        assert page.get_attribute("#models [data-name='nature']", "aria-checked") == "true"
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#download:not([hidden])")
        # `nature` paints a photo at its own size (512 px) with its detail network.
        assert natural_size(page, "#result-image") == (2 * 512 + 4, 512)
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        shot = Path(os.environ.get("BEAUTYNET_SCREENSHOT_DIR") or folder) / "page.jpg"
        page.screenshot(path=str(shot), type="jpeg", quality=88)
    assert decode_image(shot.read_bytes()).size == (1280, 860)
