"""What a slow step is doing, on a terminal: a spinner line, shown once the step has taken
a second, cleared when it ends; nothing when the output is piped or redirected."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

FRAMES = "|/-\\"
SHOWN_AFTER_S = 1.0  # a step quicker than this needs no word
TICK_S = 0.1
CLEAR = "\r\033[K"


@contextmanager
def working(
    text: str, stream: TextIO | None = None, after: float = SHOWN_AFTER_S
) -> Iterator[None]:
    """Say `text` with a spinner and the seconds spent while the block runs, if it runs
    longer than `after` seconds and `stream` (default: stderr) is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    done = threading.Event()
    spinner = threading.Thread(target=_spin, args=(text, stream, after, done), daemon=True)
    spinner.start()
    try:
        yield
    finally:
        done.set()
        spinner.join()


def _spin(text: str, stream: TextIO, after: float, done: threading.Event) -> None:
    started = time.monotonic()
    if done.wait(after):
        return
    tick = 0
    while not done.is_set():
        elapsed = time.monotonic() - started
        stream.write(f"{CLEAR}{FRAMES[tick % len(FRAMES)]} {text} ({elapsed:.0f} s)")
        stream.flush()
        tick += 1
        done.wait(TICK_S)
    stream.write(CLEAR)
    stream.flush()
