"""The image path: fit -> pad -> segment -> translate -> crop -> compose."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import TypeVar

import torch
import torch.nn.functional as F
from PIL import Image

from engine.device import one_cpu_thread
from engine.imaging import fit_long_side, fitted_size, side_by_side
from engine.imaging.tensors import to_image, to_tensor
from engine.machine import MachineStore
from engine.models import Model
from engine.options import Panels, TranslateOptions
from engine.runtimes import AUTO, DetailRunner, GeneratorRunner, RuntimeInfo
from engine.segment import (
    ClustersConfig,
    Segmenter,
    SegmenterConfig,
    build_segmenter,
    segment_larger,
    trace_larger,
)
from engine.specs import EnhancerConfig

from .batching import crop_batch, pad_batch, round_up, same_shape_batches
from .overlap import overlapped

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")


DEFAULT_LARGEST = 1024  # the longest side of an answer by default, with a detail network


def _cropped_to(image: Image.Image, multiple: int) -> Image.Image:
    """The image less its last columns and rows beyond a multiple of `multiple`."""
    width, height = image.width - image.width % multiple, image.height - image.height % multiple
    return image if image.size == (width, height) else image.crop((0, 0, width, height))


@dataclass(frozen=True)
class Translation:
    """One input's original (fitted to the answer's size), segmentation and interpretation.

    `state` is the segmenter's state after this image (k-means centroids (1, k, 3) for
    clusters, None for edges): pass it with the next frame of the same stream.
    """

    original: Image.Image
    segmentation: Image.Image
    interpretation: Image.Image
    state: torch.Tensor | None = field(default=None, repr=False, compare=False)

    def compose(self, panels: Panels = 2, *, original: bool = True) -> Image.Image:
        """original | interpretation, or original | segmentation | interpretation; without
        the original (live: the camera shows it), the interpretation or segmentation |
        interpretation."""
        shown = [self.segmentation, self.interpretation] if panels == 3 else [self.interpretation]
        if original:
            shown.insert(0, self.original)
        return side_by_side(shown) if len(shown) > 1 else shown[0]


def detail_segmentation(
    enhancer: EnhancerConfig,
    segmenter: SegmenterConfig,
    pixels: torch.Tensor,
    translation: Translation,
) -> torch.Tensor:
    """What a detail network sees of the segmentation of (1, 3, H, W) `pixels`, whose
    `translation` the generator painted smaller: drawn again at (H, W) or the generator's
    own, enlarged or traced, as `enhancer` was trained."""
    if enhancer.segmentation != "redrawn":
        drawn = to_tensor(translation.segmentation)[None].to(pixels.device)
        if enhancer.segmentation == "traced":
            return trace_larger(drawn, *pixels.shape[-2:])
        return F.interpolate(drawn, size=pixels.shape[-2:], mode="bilinear", align_corners=False)
    scale = pixels.shape[-1] / translation.interpretation.width
    return segment_larger(segmenter, pixels, translation.state, scale)


@dataclass(frozen=True)
class _Chunk:
    """Images of one padded shape, segmented, waiting for the network."""

    images: list[Image.Image]
    segmentation: torch.Tensor
    states: list[torch.Tensor | None]

    @torch.inference_mode()
    def finish(self, output: torch.Tensor) -> list[Translation]:
        sizes = [(image.height, image.width) for image in self.images]
        return [
            Translation(image, to_image(seg), to_image(out), state)
            for image, seg, out, state in zip(
                self.images,
                crop_batch(self.segmentation, sizes),
                crop_batch(output, sizes),
                self.states,
                strict=True,
            )
        ]


class ImageTranslator:
    """Runs one model on batches of images, on its device, through one runtime.

    The runtime's graph for the model's own square size is built here, and the batch size
    (0: measured, the fastest per image on this device) is fixed here too; a `store` keeps
    both choices (and the graph) for the next load on this machine.
    """

    def __init__(
        self,
        model: Model,
        runtime: str = AUTO,
        batch_size: int = 0,
        *,
        threads: int = 0,
        streams: int = 0,
        store: MachineStore | None = None,
    ) -> None:
        self.model = model
        self.device = next(model.generator.parameters()).device
        size = round_up(model.spec.size, model.spec.generator.multiple)
        self.runner = GeneratorRunner(
            model.generator,
            runtime,
            threads=threads,
            streams=streams,
            probe=(size, size),
            store=store,
            label=model.spec.label,
        )
        self.batch_size = batch_size or self.runner.fastest_batch(size, size)
        self._network_pool: ThreadPoolExecutor | None = None  # see `overlapped`
        self._pool_lock = threading.Lock()
        self._default_segmenter = build_segmenter(model.spec.segmenter)
        self.detail_runner = None
        if model.enhancer is not None:
            self.detail_runner = DetailRunner(
                model.enhancer, self.runner.name, threads=self.runner.threads, store=store
            )

    @property
    def runtime(self) -> RuntimeInfo:
        """How the generator runs here."""
        runner = self.runner
        fallbacks, slowdown = tuple(runner.fallbacks), runner.pace.slowdown
        return RuntimeInfo(runner.name, self.batch_size, runner.streams, fallbacks, slowdown)

    def describe(self) -> str:
        """'nature v8 on openvino-fp32, batch 1, 2 streams; detail on openvino-fp32': the
        model and how its networks run."""
        text = f"{self.model.spec.label} on {self.runtime.describe()}"
        detail = self.detail_runner
        if detail is not None:
            text += f"; detail on {detail.name}"
            text += "".join(f" (instead of {reason})" for reason in detail.fallbacks)
        return text

    def segmenter_for(self, options: TranslateOptions) -> Segmenter:
        """The model's own segmenter, with k overridden when the caller asks."""
        config = self.segmenter_config(options)
        if config == self.model.spec.segmenter:
            return self._default_segmenter
        return build_segmenter(config)

    def segmenter_config(self, options: TranslateOptions) -> SegmenterConfig:
        """The model's own segmenter's config, with k overridden when the caller asks."""
        config = self.model.spec.segmenter
        if options.k is None or (isinstance(config, ClustersConfig) and options.k == config.k):
            return config
        if not isinstance(config, ClustersConfig):
            raise ValueError(
                f"k applies only to clusters models; {self.model.spec.label} uses {config.kind}"
            )
        return replace(config, k=options.k)

    def network_side(self, options: TranslateOptions) -> int:
        """The long side the generator paints at: the model's own when a detail network
        paints larger answers, else the size asked."""
        model = self.model.spec.size
        if options.size is None or (self.model.enhancer is not None and options.size > model):
            return model
        return options.size

    @torch.inference_mode()
    def detailed(
        self,
        image: Image.Image,
        translation: Translation,
        options: TranslateOptions = TranslateOptions(),
        largest: int = DEFAULT_LARGEST,
    ) -> Translation:
        """`translation` (of `image`, at the generator's size) painted larger by the model's
        detail network: at the size asked, else the input's own up to `largest`, never larger
        than the input or than the network was trained for. Without a detail network, or
        when that is no larger, `translation` itself."""
        runner, painted = self.detail_runner, translation.interpretation
        if runner is None:
            return translation
        enhancer = runner.enhancer
        side = min(options.size or largest, max(image.size), enhancer.cfg.max_size)
        if side <= max(painted.size):
            return translation
        original = _cropped_to(fit_long_side(image, side), enhancer.multiple)
        pixels = to_tensor(original)[None].to(self.device)
        config = self.segmenter_config(options)
        segmentation = detail_segmentation(enhancer.cfg, config, pixels, translation)
        picture = to_tensor(painted)[None].to(self.device) * 2 - 1
        result = (runner(picture, segmentation * 2 - 1) + 1) / 2
        return Translation(
            original, to_image(segmentation[0]), to_image(result[0]), translation.state
        )

    def translate(
        self,
        images: Sequence[Image.Image],
        options: TranslateOptions = TranslateOptions(),
        states: Sequence[torch.Tensor | None] | None = None,
    ) -> list[Translation]:
        """Translate RGB images, up to `batch_size` of one padded shape at a time.

        `states` (one per image) warm-start each image's segmenter from the previous frame
        of its own stream, as live sessions need; None segments every image afresh.
        """
        if states is not None and len(states) != len(images):
            raise ValueError(f"states has {len(states)} entries for {len(images)} images")
        segmenter = self.segmenter_for(options)
        size = self.network_side(options)
        sizes = [fitted_size(*image.size, size)[::-1] for image in images]  # (h, w)
        groups = same_shape_batches(sizes, self.model.spec.generator.multiple, self.batch_size)

        def prepare(indices: list[int]) -> _Chunk:  # resized here: while the network runs
            chunk = [fit_long_side(images[i], size) for i in indices]
            chunk_states = None if states is None else [states[i] for i in indices]
            return self._prepare(chunk, segmenter, chunk_states)

        finished: list[list[Translation]] = []
        self.overlapped(
            groups, prepare, self._network, lambda c, out: finished.append(c.finish(out))
        )
        by_index = {
            index: translation
            for indices, translated in zip(groups, finished, strict=True)
            for index, translation in zip(indices, translated, strict=True)
        }
        return [by_index[i] for i in range(len(images))]

    def overlapped(
        self,
        items: Iterable[Item],
        prepare: Callable[[Item], Prepared],
        run: Callable[[Prepared], torch.Tensor],
        finish: Callable[[Prepared, torch.Tensor], None],
    ) -> None:
        """`overlap.overlapped` with this translator's network threads: up to the runtime's
        streams in the network at once. Calls that run side by side (the streams) each keep
        to one core for the small torch ops around the network, instead of waking torch's
        thread team."""
        alone = one_cpu_thread(self.device) if self.runner.streams > 1 else nullcontext()
        with alone:
            overlapped(items, prepare, run, finish, self._pool(), self.runner.streams)

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._network_pool is None:
                pool = ThreadPoolExecutor(self.runner.streams, thread_name_prefix="engine-network")
                weakref.finalize(self, pool.shutdown, wait=False)  # an evicted model's threads
                self._network_pool = pool
            return self._network_pool

    @torch.inference_mode()
    def _prepare(
        self,
        images: list[Image.Image],
        segmenter: Segmenter,
        states: Sequence[torch.Tensor | None] | None,
    ) -> _Chunk:
        tensors = [to_tensor(image).to(self.device) for image in images]
        batch, mask = pad_batch(tensors, self.model.spec.generator.multiple)
        segmentation, new_states = self._segment(batch, mask, segmenter, states)
        return _Chunk(images, segmentation, new_states)

    @torch.inference_mode()
    def _network(self, chunk: _Chunk) -> torch.Tensor:
        return self.interpret(chunk.segmentation)

    @staticmethod
    def _segment(
        batch: torch.Tensor,
        mask: torch.Tensor,
        segmenter: Segmenter,
        states: Sequence[torch.Tensor | None] | None,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Segmented batch and each image's new state; with states, each image on its own."""
        if states is None:
            segmented = segmenter.segment(batch, mask)
            if segmented.state is None:
                return segmented.images, [None] * len(batch)
            return segmented.images, list(segmented.state.split(1))
        parts = [
            segmenter.segment(batch[i : i + 1], mask[i : i + 1], state)
            for i, state in enumerate(states)
        ]
        return torch.cat([part.images for part in parts]), [part.state for part in parts]

    @torch.inference_mode()
    def interpret(self, segmentation: torch.Tensor) -> torch.Tensor:
        """The generator's interpretation (B, 3, H, W) in [0, 1] of segmentations in [0, 1]."""
        return (self.runner(segmentation * 2 - 1) + 1) / 2
