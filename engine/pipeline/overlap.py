"""Keep the cores busy: prepare the next item while the network runs the ones before it.

The network is most of the work, but segmenting, cropping and composing are not free (about
a fifth of an image's time on a CPU). Run one after the other, the cores idle while the
network waits for its input; run as a pipeline, the calling thread prepares item n + 1 (and
finishes item n - 1) while the network runs item n in a worker, `depth` items at most at
once. Items are prepared and finished in order, on the calling thread, so a state carried
from one item to the next (k-means warm starts, smoothing) works as it would in a loop.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from typing import TypeVar

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")
Result = TypeVar("Result")


def overlapped(
    items: Iterable[Item],
    prepare: Callable[[Item], Prepared],
    run: Callable[[Prepared], Result],
    finish: Callable[[Prepared, Result], None],
    pool: Executor,
    depth: int,
) -> None:
    """prepare(item) here, run(prepared) in `pool` (`depth` at most in flight), then
    finish(prepared, result) here, item after item in order. A lone item has nothing to
    overlap with: it runs here, without a hop to the pool."""
    iterator = iter(items)
    head = list(itertools.islice(iterator, 2))
    if len(head) == 1:
        prepared = prepare(head[0])
        finish(prepared, run(prepared))
        return
    pending: deque[tuple[Prepared, Future[Result]]] = deque()
    try:
        for item in itertools.chain(head, iterator):
            prepared = prepare(item)
            pending.append((prepared, pool.submit(run, prepared)))
            if len(pending) > depth:  # the next one is prepared while `depth` run
                done, future = pending.popleft()
                finish(done, future.result())
        while pending:
            done, future = pending.popleft()
            finish(done, future.result())
    finally:
        for _, future in pending:  # an error: what was not started is not needed
            future.cancel()
