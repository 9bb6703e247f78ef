"""The last few values by key, each built once, outside the lock (loading a model or building
a runtime's graph takes seconds: lookups of what is built must not wait for it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class BuiltOnce(Generic[Key, Value]):
    """Values by key, least recently used dropped past `size`; a key asked for while its value
    is being built waits for that build, and a failed build is tried again next time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._built: OrderedDict[Key, Future[Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key, build: Callable[[], Value]) -> Value:
        """The value for `key`, built by `build()` in this thread if no one has."""
        with self._lock:
            built = self._built.get(key)
            if building := built is None:
                built = self._built[key] = Future()
                while len(self._built) > self.size:
                    self._built.popitem(last=False)
            self._built.move_to_end(key)
        if building:
            try:
                built.set_result(build())
            except BaseException as exc:
                built.set_exception(exc)
                with self._lock:
                    if self._built.get(key) is built:
                        del self._built[key]
        return built.result()

    def built(self, key: Key) -> bool:
        """Whether the value for `key` is built: `get` would return it at once."""
        with self._lock:
            future = self._built.get(key)
        return future is not None and future.done() and future.exception() is None

    def ready(self) -> list[Value]:
        """The values built so far (none still building, none failed), oldest use first."""
        with self._lock:
            futures = list(self._built.values())
        return [f.result() for f in futures if f.done() and f.exception() is None]
