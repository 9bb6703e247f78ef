"""The overlap pipeline: the next item is prepared while the network runs, order is kept."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.pipeline.overlap import overlapped


def test_items_are_prepared_ahead_and_finished_in_order_on_the_calling_thread() -> None:
    caller = threading.get_ident()
    events: list[str] = []
    running, most = 0, 0
    lock = threading.Lock()
    two_at_once = threading.Barrier(2, timeout=10)

    def prepare(item: int) -> int:
        assert threading.get_ident() == caller
        events.append(f"prepare {item}")
        return item

    def run(item: int) -> int:
        nonlocal running, most
        assert threading.get_ident() != caller
        with lock:
            running += 1
            most = max(most, running)
        if item < 2:
            two_at_once.wait()  # items 0 and 1 are in the network together
        with lock:
            running -= 1
        return item * 10

    def finish(item: int, result: int) -> None:
        assert threading.get_ident() == caller and result == item * 10
        events.append(f"finish {item}")

    with ThreadPoolExecutor(2) as pool:
        overlapped(range(5), prepare, run, finish, pool, depth=2)
    assert [e for e in events if e.startswith("finish")] == [f"finish {i}" for i in range(5)]
    assert events.index("prepare 2") < events.index("finish 0")  # prepared while 0 and 1 ran
    assert most == 2


def test_an_error_in_the_network_reaches_the_caller_and_stops_the_rest() -> None:
    started: list[int] = []

    def run(item: int) -> int:
        started.append(item)
        if item == 1:
            raise RuntimeError("network failed")
        return item

    with ThreadPoolExecutor(1) as pool, pytest.raises(RuntimeError, match="network failed"):
        overlapped(range(100), lambda i: i, run, lambda i, r: None, pool, depth=1)
    assert len(started) < 100


def test_a_lone_item_runs_on_the_calling_thread() -> None:
    caller = threading.get_ident()
    ran: list[int] = []

    def run(item: int) -> int:
        ran.append(threading.get_ident())
        return item

    finished: list[int] = []
    with ThreadPoolExecutor(1) as pool:
        overlapped(iter([7]), lambda i: i, run, lambda i, r: finished.append(r), pool, depth=1)
    assert ran == [caller] and finished == [7]
