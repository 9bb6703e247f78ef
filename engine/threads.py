"""Threads for the engine service, sized from the machine: the network's and the codecs'.

The generator's intra-op threads (torch) and the decode/encode workers share the cores. The
network is most of the work (104 ms of a 256 px image's 128 ms on one thread here), so it
gets every core; a quarter of the cores (at least one) decode and encode, borrowing a core
for 2 to 25 ms per image. More codec threads than that make torch's workers wait for each
other at every layer while a codec holds their core; fewer network threads leave cores
idle. `bench/load.py` on 2 cores: 14.1 images/s batched with 2 network and 1 codec threads,
13.7 with 2 and 2, 9.5 with 1 and 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.device import set_torch_threads


@dataclass(frozen=True)
class ThreadPlan:
    """How many threads the network and the decode/encode workers get."""

    cores: int  # the cores this process may run on
    network: int  # the generator's threads (torch intra-op, and the exported runtimes')
    codec: int  # decode and encode worker threads
    streams: int = 1  # generator calls at once, sharing the network threads

    def describe(self) -> str:
        """One line for the start-up log."""
        return (
            f"threads: network {self.network} in {self.streams} stream(s), "
            f"decode/encode {self.codec} ({self.cores} cores)"
        )


def available_cores() -> int:
    """The cores this process may run on (its affinity, which containers narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def plan_threads(
    network: int = 0, codec: int = 0, streams: int = 0, cores: int | None = None
) -> ThreadPlan:
    """The plan for `cores` (default: this machine's); 0 sizes that share from the cores.

    Two streams once there are two network threads: OpenVINO on 2 cores served 35-38
    images/s as two one-thread streams against 33 as one two-thread stream, and a second
    call in flight keeps a core busy while the other's segmentation runs.
    """
    if min(network, codec, streams) < 0:
        raise ValueError(
            f"thread and stream counts must be >= 0 (0 = auto), got {network}, {codec}, {streams}"
        )
    cores = cores or available_cores()
    network = network or cores
    return ThreadPlan(
        cores, network, codec or max(1, cores // 4), streams or default_streams(network)
    )


def default_streams(network_threads: int) -> int:
    """Generator calls at once for `network_threads` threads: two once there are two."""
    return min(2, network_threads)


def use_threads(plan: ThreadPlan) -> None:
    """Give torch the network's share (process-wide; the codec workers are the service's)."""
    set_torch_threads(plan.network)
