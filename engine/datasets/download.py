"""Download images listed by URL: concurrent, capped in bytes, time and count.

Guild admins are not the machine's owner, so by default only public addresses are fetched
(no localhost, LAN or cloud metadata endpoints), and redirects are followed by hand so that
every hop is checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from engine.errors import InputError

from .sources import Candidate, is_url

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = "beautynet-dataset/0.1 (+https://github.com/beautynet)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class UrlLimits:
    """Caps on downloads: count, bytes and seconds per URL, parallel requests."""

    max_urls: int = 1000
    max_bytes: int = 25 * 1024 * 1024
    timeout_s: float = 30.0
    concurrency: int = 8
    allow_private: bool = False

    def __post_init__(self) -> None:
        for name in ("max_urls", "max_bytes", "timeout_s", "concurrency"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


class _PublicOnlyResolver(aiohttp.ThreadedResolver):
    """Resolves names but drops private, loopback and link-local addresses."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        infos = await super().resolve(host, port, family)
        public = [info for info in infos if ipaddress.ip_address(info["host"]).is_global]
        if not public:
            raise OSError(f"{host} is a private address")
        return public


async def fetch_urls(urls: Sequence[str], limits: UrlLimits) -> AsyncIterator[Candidate]:
    """Download `urls` concurrently, yielding each result as it completes."""
    for url in urls[limits.max_urls :]:
        yield Candidate(url, error=f"too many URLs (limit {limits.max_urls})")
    urls = urls[: limits.max_urls]
    if not urls:
        return
    resolver = None if limits.allow_private else _PublicOnlyResolver()
    connector = aiohttp.TCPConnector(limit=limits.concurrency, resolver=resolver)
    headers = {"User-Agent": USER_AGENT}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        gate = asyncio.Semaphore(limits.concurrency)
        tasks = [asyncio.create_task(_fetch_one(session, gate, url, limits)) for url in urls]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _fetch_one(
    session: aiohttp.ClientSession, gate: asyncio.Semaphore, url: str, limits: UrlLimits
) -> Candidate:
    async with gate:
        try:
            async with asyncio.timeout(limits.timeout_s):
                return Candidate(url, data=await _get(session, url, limits))
        except InputError as exc:
            reason = str(exc)
        except TimeoutError:
            reason = f"timed out after {limits.timeout_s:g} s"
        except aiohttp.ClientConnectorError as exc:
            reason = f"cannot connect ({exc.os_error})"
        except (aiohttp.ClientError, ValueError) as exc:
            reason = f"download failed ({type(exc).__name__})"
    log.debug("refused %s: %s", url, reason)
    return Candidate(url, error=reason)


async def _get(session: aiohttp.ClientSession, url: str, limits: UrlLimits) -> bytes:
    target = URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(target, limits)
        async with session.get(target, allow_redirects=False) as response:
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                target = target.join(URL(location))
                continue
            if response.status != 200:
                raise InputError(f"HTTP {response.status}")
            return await _read_capped(response, limits.max_bytes)
    raise InputError("too many redirects")


def _check_url(url: URL, limits: UrlLimits) -> None:
    if not is_url(str(url)) or not url.host:
        raise InputError("not an http(s) URL")
    if limits.allow_private:
        return
    try:
        address = ipaddress.ip_address(url.host)
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not address.is_global:
        raise InputError("private address refused")


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, read chunk by chunk and abandoned as soon as it passes `max_bytes`."""
    if response.content_length is not None and response.content_length > max_bytes:
        raise InputError(f"file too large ({response.content_length / 2**20:.1f} MiB)")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise InputError(f"file too large (over {max_bytes / 2**20:.1f} MiB)")
    return bytes(body)
