"""The service's own settings: limits, batching and auth, as one frozen dataclass."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_MAX_UPLOAD = 25 * 1024 * 1024
DEFAULT_LIVE_FRAME = 1024 * 1024  # a 256 px camera frame is about 20 KiB as JPEG


@dataclass(frozen=True)
class ServiceConfig:
    """What the HTTP layer needs beyond the engine itself."""

    token: str | None = None  # bearer token; None = no auth (loopback only)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD  # one uploaded image or clip
    queue_size: int = 256  # images waiting for the network; more -> 503
    max_batch: int | None = None  # images per generator call; None: each model's fastest
    batch_wait_s: float = 0.010  # how long a lone request waits for company
    clip_jobs: int = 8  # clip jobs kept, running or finished
    idempotency_entries: int = 256  # finished results remembered by request id (in memory)
    retry_after_s: int = 1  # suggested in 503 answers
    live_sessions: int = 4  # camera sessions at once; more are told the engine is busy
    live_frame_bytes: int = DEFAULT_LIVE_FRAME  # one camera frame over the WebSocket
    live_idle_s: float = 60.0  # a session that sends no frame for this long is closed
    codec_threads: int = 2  # decode/encode workers (`engine.threads` sizes them per machine)
    header_timeout_s: float = 10.0  # a request head must arrive within this (and keep-alive idle)
    body_timeout_s: float = 15.0  # each read of a request body must bring data within this

    def __post_init__(self) -> None:
        names = (
            "max_upload_bytes",
            "queue_size",
            "clip_jobs",
            "live_sessions",
            "live_frame_bytes",
            "codec_threads",
        )
        for name in names:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_batch is not None and self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1 (or None), got {self.max_batch}")
        if self.batch_wait_s < 0:
            raise ValueError(f"batch_wait_s must be >= 0, got {self.batch_wait_s}")
        for name in ("live_idle_s", "header_timeout_s", "body_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen_address(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not token and not is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host} without ENGINE_TOKEN; set a token or listen on 127.0.0.1"
        )
