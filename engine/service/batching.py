"""Dynamic batching: concurrent image requests share generator calls (one per padded shape).

Requests for the same model and options wait at most `max_wait_s` (counted from the
oldest) for company, up to the model's batch size: the one measured fastest per image on
this device (`ImageTranslator.batch_size`), unless `max_batch` caps it. Up to the model's
runtime `streams` batches run at once in the network threads, so the cores stay busy with
one batch's segmentation while another is in the network, and while batches run the next
ones fill up. A bounded queue refuses work instead of growing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field

import torch
from PIL import Image

from engine.pipeline import ImageTranslator, TranslateOptions, Translation

from .metrics import Metrics

log = logging.getLogger(__name__)

BatchKey = tuple[str, TranslateOptions]


class QueueFullError(Exception):
    """Too many images are waiting; the caller should retry later."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("the engine is busy; retry later")
        self.retry_after_s = retry_after_s


@dataclass
class _Item:
    image: Image.Image
    state: torch.Tensor | None  # a live session's segmenter state; None for still images
    future: asyncio.Future[Translation]
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class _Group:
    translator: ImageTranslator
    items: deque[_Item] = field(default_factory=deque)


class Batcher:
    """Gathers images per (model, options) into batches and runs them in `executor`."""

    def __init__(
        self,
        executor: Executor,
        metrics: Metrics,
        max_batch: int | None = None,
        max_wait_s: float = 0.010,
        max_pending: int = 256,
        retry_after_s: int = 1,
    ) -> None:
        if (max_batch is not None and max_batch < 1) or max_pending < 1 or max_wait_s < 0:
            raise ValueError(
                f"need max_batch >= 1 (or None), max_pending >= 1, max_wait_s >= 0; got "
                f"{max_batch}, {max_pending}, {max_wait_s}"
            )
        self.executor, self.metrics = executor, metrics
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.max_pending, self.retry_after_s = max_pending, retry_after_s
        self._groups: dict[BatchKey, _Group] = {}
        self._pending = 0
        self._running: dict[str, int] = {}  # batches in the network, per model version
        self._runs: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Images waiting for the network (not yet in a running batch)."""
        return self._pending

    def start(self) -> None:
        """Start the dispatch loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._dispatch(), name="batcher")

    async def stop(self) -> None:
        """Stop dispatching; waiting requests fail with CancelledError."""
        for task in (self._task, *self._runs):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, *self._runs) if t), return_exceptions=True)
        for group in self._groups.values():
            for item in group.items:
                item.future.cancel()
        self._groups.clear()

    async def translate(
        self,
        translator: ImageTranslator,
        image: Image.Image,
        options: TranslateOptions,
        state: torch.Tensor | None = None,
    ) -> Translation:
        """Queue one image (with its stream's segmenter state) and wait for its translation."""
        if self._pending >= self.max_pending:
            raise QueueFullError(self.retry_after_s)
        key = (translator.model.spec.label, options)
        group = self._groups.setdefault(key, _Group(translator))
        item = _Item(image, state, asyncio.get_running_loop().create_future())
        group.items.append(item)
        self._pending += 1
        self._wake.set()
        return await item.future

    # ---- dispatch loop -----------------------------------------------------------------
    def batch_size(self, translator: ImageTranslator) -> int:
        """Images per generator call for this model."""
        return min(translator.batch_size, self.max_batch or translator.batch_size)

    def _oldest(self) -> BatchKey | None:
        """The group whose first image waited longest, among those with a free stream."""
        waiting = [
            (group.items[0].enqueued, key)
            for key, group in self._groups.items()
            if group.items and self._running.get(key[0], 0) < group.translator.runner.streams
        ]
        return min(waiting, key=lambda pair: pair[0])[1] if waiting else None

    async def _dispatch(self) -> None:
        while True:
            key = self._oldest()
            if key is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._fill(key)
            translator = self._groups[key].translator
            items = self._take(key)
            if not self._groups[key].items:
                del self._groups[key]
            if items:
                self._start(key, translator, items)

    def _start(self, key: BatchKey, translator: ImageTranslator, items: list[_Item]) -> None:
        """Run one batch in the network threads; its stream is free again when it ends."""
        label = key[0]
        self._running[label] = self._running.get(label, 0) + 1
        task = asyncio.get_running_loop().create_task(self._run(key[1], translator, items))
        self._runs.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._runs.discard(done)
            self._running[label] -= 1
            self._wake.set()

        task.add_done_callback(finished)

    async def _fill(self, key: BatchKey) -> None:
        """Wait until the batch is full or its oldest image has waited max_wait_s."""
        group = self._groups[key]
        deadline = group.items[0].enqueued + self.max_wait_s
        while len(group.items) < self.batch_size(group.translator):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return

    def _take(self, key: BatchKey) -> list[_Item]:
        group = self._groups[key]
        items: list[_Item] = []
        while group.items and len(items) < self.batch_size(group.translator):
            item = group.items.popleft()
            self._pending -= 1
            if not item.future.done():  # a cancelled request does not need the network
                items.append(item)
        return items

    async def _run(
        self, options: TranslateOptions, translator: ImageTranslator, items: list[_Item]
    ) -> None:
        start = time.monotonic()
        for item in items:
            self.metrics.observe_stage("queue", start - item.enqueued)
        self.metrics.observe_batch(len(items))
        loop = asyncio.get_running_loop()
        images, states = [item.image for item in items], [item.state for item in items]
        # Still images only: None, so that the whole batch is segmented at once.
        streams = None if all(state is None for state in states) else states
        try:
            results = await loop.run_in_executor(
                self.executor, translator.translate, images, options, streams
            )
        except Exception as exc:
            log.debug("batch of %d failed: %s", len(items), exc)
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            self.metrics.observe_stage("translate", time.monotonic() - start)
        for item, result in zip(items, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)
