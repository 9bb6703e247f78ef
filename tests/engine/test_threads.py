"""Thread plans of the engine service: sized from the cores, or as the settings say."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import torch

import engine.device
from beautynet.components.engine import service_config, service_threads
from engine.core import Engine
from engine.device import one_cpu_thread, set_torch_threads, torch_threads
from engine.models import ModelRegistry
from engine.threads import plan_threads, use_threads
from infra.settings import Settings

CPU = torch.device("cpu")
T = TypeVar("T")


@pytest.mark.parametrize(
    ("cores", "network", "codec", "streams"),
    [(1, 1, 1, 1), (2, 2, 1, 2), (4, 4, 1, 2), (16, 16, 4, 2)],
)
def test_the_network_gets_every_core_in_two_streams_and_the_codecs_a_quarter(
    cores: int, network: int, codec: int, streams: int
) -> None:
    plan = plan_threads(cores=cores)
    assert (plan.network, plan.codec, plan.streams) == (network, codec, streams)


def test_settings_choose_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAUTYNET_ENGINE_NETWORK_THREADS", "3")
    monkeypatch.setenv("BEAUTYNET_ENGINE_CODEC_THREADS", "5")
    monkeypatch.setenv("BEAUTYNET_ENGINE_STREAMS", "3")
    plan = service_threads(Settings())
    assert (plan.network, plan.codec, plan.streams) == (3, 5, 3)
    assert "network 3 in 3 stream(s), decode/encode 5" in plan.describe()
    assert service_config(Settings(), codec_threads=plan.codec).codec_threads == 5


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="thread and stream counts must be >= 0"):
        plan_threads(network=-1)
    with pytest.raises(ValueError, match="thread and stream counts must be >= 0"):
        plan_threads(streams=-1)


@pytest.fixture
def two_torch_threads() -> Iterator[int]:
    """torch on two threads (whatever the machine), the process's own count restored after."""
    before = torch_threads()
    set_torch_threads(2)
    try:
        yield 2
    finally:
        set_torch_threads(before)


def test_torch_gets_the_network_share(two_torch_threads: int) -> None:
    use_threads(plan_threads(network=1, codec=1))
    assert torch.get_num_threads() == torch_threads() == 1


def in_a_new_thread(call: Callable[[], T]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@pytest.mark.parametrize("set_by", ["the service's thread plan", "torch's own count"])
def test_one_thread_blocks_side_by_side_give_torch_its_threads_back(
    two_torch_threads: int, monkeypatch: pytest.MonkeyPatch, set_by: str
) -> None:
    """Two threads in `one_cpu_thread` at once, the first to come the first to leave (two live
    frames in flight): threads started afterwards still get torch's two threads, not one."""
    if set_by == "torch's own count":  # a process that never set it (the command line)
        monkeypatch.setattr(engine.device, "_torch_threads", 0)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with one_cpu_thread(CPU):
            first_in.set()
            assert second_in.wait(20)
        first_out.set()

    def second() -> None:
        assert first_in.wait(20)
        with one_cpu_thread(CPU):
            second_in.set()
            assert first_out.wait(20)

    with ThreadPoolExecutor(2) as pool:
        for block in [pool.submit(first), pool.submit(second)]:
            block.result(20)
    assert in_a_new_thread(torch.get_num_threads) == two_torch_threads
    assert torch_threads() == two_torch_threads


def test_a_model_loaded_beside_a_one_thread_block_gets_the_engines_threads(
    two_torch_threads: int, make_model, tmp_path: Path
) -> None:
    make_model("tiny", directory=tmp_path / "models")
    engine = Engine(ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none"), CPU)
    with one_cpu_thread(CPU):  # a live frame, say, on this thread
        translator = in_a_new_thread(lambda: engine.translator("tiny"))
    assert engine.threads == translator.runner.threads == two_torch_threads
