"""BuiltOnce: each value built once, outside the lock; what is built stays reachable meanwhile."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.built import BuiltOnce


def test_a_slow_build_keeps_neither_other_keys_nor_ready_waiting() -> None:
    cache: BuiltOnce[str, int] = BuiltOnce(3)
    assert cache.get("a", lambda: 1) == 1
    building, release = threading.Event(), threading.Event()
    builds: list[str] = []

    def slow() -> int:
        builds.append("b")
        building.set()
        assert release.wait(10)
        return 2

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.get, "b", slow)
        assert building.wait(10)
        second = pool.submit(cache.get, "b", slow)  # waits for the first build, builds nothing
        assert cache.get("a", lambda: 99) == 1  # not blocked, not rebuilt
        assert cache.ready() == [1]  # "b" is still building
        assert cache.built("a") and not cache.built("b")  # a live page says "b" is loading
        release.set()
        assert first.result(10) == second.result(10) == 2
    assert builds == ["b"] and cache.ready() == [2, 1]  # "a" was used last


def test_a_failed_build_is_tried_again_and_the_oldest_is_dropped() -> None:
    cache: BuiltOnce[str, int] = BuiltOnce(2)

    def broken() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        cache.get("a", broken)
    assert cache.ready() == [] and not cache.built("a")
    assert cache.get("a", lambda: 1) == 1
    cache.get("b", lambda: 2)
    cache.get("c", lambda: 3)
    assert cache.ready() == [2, 3] and not cache.built("a")  # dropped: it would load again
