"""engine.datasets: building datasets from folders, zips, uploads and URLs."""

from __future__ import annotations

import asyncio
import io
import json
import stat
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from engine.datasets import (
    AddProgress,
    DatasetNotFoundError,
    MemoryFile,
    UrlLimits,
    ZipLimits,
    add_sources,
    add_sources_async,
    image_paths,
    list_datasets,
    load_manifest,
    pixel_hash,
    remove_dataset,
)
from engine.imaging import ImageLimits


def picture(width: int = 48, height: int = 32, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two distinct images, one copy, one text file, one empty file and Finder litter."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(encoded(picture(seed=1)))
    (root / "sub" / "b.jpg").write_bytes(encoded(picture(90, 150, seed=2), "JPEG"))
    (root / "sub" / "copy-of-a.png").write_bytes(encoded(picture(seed=1)))
    (root / "notes.png").write_text("not a picture\n")
    (root / "empty.jpg").write_bytes(b"")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    outside = tmp_path / "outside.png"
    outside.write_bytes(encoded(picture(seed=3)))
    (root / "link.png").symlink_to(outside)  # links are skipped: they may point anywhere
    return root


def test_add_folder_stores_shrinks_dedups_and_reports(tmp_path: Path, folder: Path) -> None:
    datasets = tmp_path / "datasets"
    events: list[AddProgress] = []
    report = add_sources(datasets, "flowers", [folder], max_side=40, progress=events.append)

    assert [Path(e.source).name for e in report.added] == ["a.png", "b.jpg"]
    assert [Path(d.source).name for d in report.duplicates] == ["copy-of-a.png"]
    reasons = {Path(r.source).name: r.reason for r in report.rejected}
    assert reasons == {
        "notes.png": "not an image (could not identify format)",
        "empty.jpg": "empty file",
    }
    assert [e.done for e in events] == [1, 2, 3, 4, 5]  # .DS_Store skipped, not rejected

    manifest = load_manifest(datasets, "flowers")
    by_name = {Path(e.source).name: e for e in manifest.entries}
    assert (by_name["a.png"].width, by_name["a.png"].height) == (48, 32)  # small: untouched
    assert (by_name["b.jpg"].width, by_name["b.jpg"].height) == (40, 67)  # short side 90 -> 40
    for entry, path in zip(manifest.entries, image_paths(datasets, "flowers"), strict=True):
        assert path.name == f"{entry.hash}.png" and path.stat().st_size == entry.bytes
        assert pixel_hash(Image.open(path)) == entry.hash  # stored losslessly, hash verifiable
    assert len(manifest.rejected) == 2
    assert not list((datasets / "flowers").glob("**/*.tmp"))


def test_readding_finds_duplicates_across_formats(tmp_path: Path, folder: Path) -> None:
    datasets = tmp_path / "datasets"
    add_sources(datasets, "flowers", [folder])
    same_pixels = MemoryFile("a-again.webp", encoded(picture(seed=1), "WEBP", lossless=True))
    report = add_sources(datasets, "flowers", [folder, same_pixels])
    assert report.added == []
    assert len(report.duplicates) == 4 and report.total_images == 2
    assert len(list((datasets / "flowers" / "images").iterdir())) == 2


def make_zip(
    members: dict[str, bytes], symlink: str | None = None, compression: int = zipfile.ZIP_STORED
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("pics/", b"")  # a directory entry
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "../../etc/passwd")
    return buffer.getvalue()


def test_add_zip_reads_members_without_extracting(tmp_path: Path) -> None:
    archive = tmp_path / "upload.zip"
    archive.write_bytes(
        make_zip(
            {
                "pics/one.png": encoded(picture(seed=3)),
                "pics/two.jpg": encoded(picture(seed=4), "JPEG"),
                "readme.txt": b"hello",
                "__MACOSX/pics/._one.png": b"junk",
            },
            symlink="pics/link.png",
        )
    )
    report = add_sources(tmp_path / "datasets", "zipped", [archive])
    assert sorted(e.source for e in report.added) == [
        f"{archive}:pics/one.png",
        f"{archive}:pics/two.jpg",
    ]
    assert [(r.source, r.reason) for r in report.rejected] == [
        (f"{archive}:readme.txt", "not an image (could not identify format)")
    ]
    assert not (tmp_path / "pics").exists()


def test_zip_limits(tmp_path: Path) -> None:
    data = make_zip({f"{i}.png": encoded(picture(seed=i)) for i in range(3)})
    upload = MemoryFile("upload.zip", data)
    datasets = tmp_path / "datasets"
    report = add_sources(datasets, "z", [upload], zip_limits=ZipLimits(max_members=2))
    assert [r.reason for r in report.rejected] == ["zip has too many files (3, limit 2)"]
    one_png = len(encoded(picture(seed=0)))
    budget = ZipLimits(max_total_bytes=int(one_png * 1.5))
    report = add_sources(datasets, "z", [upload], zip_limits=budget)
    assert len(report.added) == 1
    assert [r.reason for r in report.rejected] == ["zip holds more data than allowed"] * 2


def test_zip_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    bomb = make_zip(
        {"huge.png": b"\x00" * 3 * 2**20}, compression=zipfile.ZIP_DEFLATED
    )  # ~3 KiB compressed
    assert len(bomb) < 2**15
    limits = ImageLimits(max_bytes=2**20)
    report = add_sources(tmp_path, "z", [MemoryFile("bomb.zip", bomb)], limits=limits)
    assert [(r.source, r.reason) for r in report.rejected] == [
        ("bomb.zip:huge.png", "file too large (3.0 MiB)")
    ]


def test_new_dataset_with_nothing_added_is_not_left_behind(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    report = add_sources(
        datasets, "empty", [MemoryFile("x.png", b"<html></html>"), tmp_path / "nope"]
    )
    assert report.added == []
    assert [r.reason for r in report.rejected] == [
        "not an image (could not identify format)",
        "no such file or folder",
    ]
    assert list_datasets(datasets) == []
    assert not (datasets / "empty").exists()


@pytest.mark.parametrize("name", ["", "Flowers", "../etc", "a/b", "-x", "x" * 65])
def test_invalid_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="dataset name must be"):
        add_sources(tmp_path, name, [])
    with pytest.raises(ValueError, match="dataset name must be"):
        remove_dataset(tmp_path, name)


def test_list_and_remove(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    add_sources(datasets, "water", [MemoryFile("w.png", encoded(picture(seed=5)))])
    add_sources(datasets, "sky", [MemoryFile("s.png", encoded(picture(seed=6)))])
    (datasets / "stray-folder").mkdir()  # no manifest: not a dataset
    assert [(m.name, len(m.entries)) for m in list_datasets(datasets)] == [("sky", 1), ("water", 1)]
    (datasets / ".sky.removing" / "images").mkdir(parents=True)  # left by a crashed removal
    remove_dataset(datasets, "sky")
    assert [m.name for m in list_datasets(datasets)] == ["water"]
    assert sorted(p.name for p in datasets.iterdir()) == ["stray-folder", "water"]
    with pytest.raises(DatasetNotFoundError, match="no dataset named 'sky'"):
        remove_dataset(datasets, "sky")
    with pytest.raises(DatasetNotFoundError):
        load_manifest(datasets, "stray-folder")


def test_manifest_is_plain_json(tmp_path: Path) -> None:
    add_sources(tmp_path, "json", [MemoryFile("upload.png", encoded(picture(seed=7)))])
    data = json.loads((tmp_path / "json" / "manifest.json").read_text())
    assert data["name"] == "json" and data["format"] == 1
    (entry,) = data["entries"]
    assert set(entry) == {"hash", "file", "source", "width", "height", "bytes", "added"}
    assert entry["source"] == "upload.png"


# --- URLs, from a local server ------------------------------------------------------------

GOOD = encoded(picture(seed=8))
OTHER = encoded(picture(seed=9))


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    release = asyncio.Event()

    async def good(request: web.Request) -> web.Response:
        return web.Response(body=GOOD, content_type="image/png")

    async def page(request: web.Request) -> web.Response:  # lies about its type
        return web.Response(body=b"<html><body>hi</body></html>", content_type="image/png")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to check up front
        await response.prepare(request)
        for _ in range(20):
            await response.write(b"\x89PNG" + b"\x00" * 16_380)
        return response

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=GOOD)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/other.png")

    async def other(request: web.Request) -> web.Response:
        return web.Response(body=OTHER)

    app = web.Application()
    for path, handler in [
        ("/good.png", good),
        ("/page.png", page),
        ("/big.png", big),
        ("/slow.png", slow),
        ("/moved", moved),
        ("/other.png", other),
    ]:
        app.router.add_get(path, handler)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    release.set()
    await test_server.close()


LOCAL = UrlLimits(max_bytes=100_000, timeout_s=0.5, allow_private=True)


async def test_add_urls_from_a_list(tmp_path: Path, server: TestServer) -> None:
    base = str(server.make_url("/"))
    names = ["good.png", "page.png", "big.png", "slow.png", "missing.png", "moved", "good.png"]
    url_list = tmp_path / "urls.txt"
    url_list.write_text("# my flowers\n" + "\n".join(base + n for n in names) + "\nftp://x/y\n")

    report = await add_sources_async(tmp_path / "ds", "web", [url_list], url_limits=LOCAL)

    assert sorted(e.source for e in report.added) == [base + "good.png", base + "moved"]
    reasons = {r.source.removeprefix(base): r.reason for r in report.rejected}
    assert reasons == {
        "page.png": "not an image (could not identify format)",
        "big.png": "file too large (over 0.1 MiB)",
        "slow.png": "timed out after 0.5 s",
        "missing.png": "HTTP 404",
        "ftp://x/y": "not an http(s) URL",
    }
    assert report.duplicates == []  # the repeated line was dropped before downloading


async def test_private_addresses_refused_by_default(tmp_path: Path, server: TestServer) -> None:
    by_ip = str(server.make_url("/good.png"))
    by_name = by_ip.replace("127.0.0.1", "localhost")
    limits = UrlLimits(timeout_s=2)
    report = await add_sources_async(tmp_path, "web", [by_ip, by_name], url_limits=limits)
    reasons = {r.source: r.reason for r in report.rejected}
    assert reasons[by_ip] == "private address refused"
    assert reasons[by_name].startswith("cannot connect (localhost is a private address")
    assert report.added == []


async def test_url_count_is_capped(tmp_path: Path, server: TestServer) -> None:
    urls = [str(server.make_url("/good.png")), str(server.make_url("/other.png"))]
    limits = UrlLimits(max_urls=1, timeout_s=2, allow_private=True)
    report = await add_sources_async(tmp_path, "web", urls, url_limits=limits)
    assert [e.source for e in report.added] == urls[:1]
    assert [(r.source, r.reason) for r in report.rejected] == [(urls[1], "too many URLs (limit 1)")]


async def test_downloads_respect_the_concurrency_limit(tmp_path: Path) -> None:
    in_flight, peak, arrived = 0, 0, asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 2:
            arrived.set()
        # Hold each request until two overlap, so an unlimited client would pile up here.
        await asyncio.wait_for(arrived.wait(), 2)
        await asyncio.sleep(0.01)
        in_flight -= 1
        seed = int(request.match_info["seed"])
        return web.Response(body=encoded(picture(seed=seed)))

    app = web.Application()
    app.router.add_get("/{seed}.png", handler)
    async with TestServer(app, host="127.0.0.1") as test_server:
        urls = [str(test_server.make_url(f"/{seed}.png")) for seed in range(10, 16)]
        limits = UrlLimits(concurrency=2, timeout_s=5, allow_private=True)
        report = await add_sources_async(tmp_path, "web", urls, url_limits=limits)
    assert len(report.added) == 6 and report.rejected == []
    assert peak == 2


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        UrlLimits(timeout_s=0)
