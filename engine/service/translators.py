"""Translators by model reference, remembered briefly: resolving a name reads every model spec."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.core import Engine
from engine.pipeline import ImageTranslator

MAX_ENTRIES = 64


class TranslatorCache:
    """`engine.translator(ref)` reused for `ttl_s`, so a promotion is seen within that time."""

    def __init__(
        self, engine: Engine, ttl_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine, self.ttl_s, self.clock = engine, ttl_s, clock
        self._entries: dict[str | None, tuple[float, ImageTranslator]] = {}
        self._lock = threading.Lock()

    def get(self, ref: str | None) -> ImageTranslator:
        """The translator for 'name', 'name@version' or None (the default model)."""
        now = self.clock()
        with self._lock:
            hit = self._entries.get(ref)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        translator = self.engine.translator(ref)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[ref] = (now, translator)
        return translator

    def clear(self) -> None:
        """Forget every reference (after a promotion, a rollback or a deletion)."""
        with self._lock:
            self._entries.clear()
