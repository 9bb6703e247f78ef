"""Thread plans of the engine service: sized from the cores, or as the settings say."""

from __future__ import annotations

import pytest
import torch

from beautynet.components.engine import service_config, service_threads
from engine.threads import plan_threads, use_threads
from infra.settings import Settings


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


def test_torch_gets_the_network_share() -> None:
    before = torch.get_num_threads()
    try:
        use_threads(plan_threads(network=1, codec=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
