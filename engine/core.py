"""The engine's front door: models by name, loaded once, and untrusted bytes in, image out."""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from engine.device import Precision
from engine.imaging import ImageFormat, ImageLimits, decode_image, encode_image
from engine.models import ModelEntry, ModelRegistry, load_model, parse_model_ref
from engine.pipeline import ImageTranslator, TranslateOptions


class Engine:
    """Holds the registry, the device, and a small cache of loaded models (thread-safe)."""

    def __init__(
        self,
        registry: ModelRegistry,
        device: torch.device,
        precision: Precision = "auto",
        limits: ImageLimits = ImageLimits(),
        batch_size: int = 0,
        cache_size: int = 3,
    ) -> None:
        self.registry = registry
        self.device = device
        self.precision: Precision = precision
        self.limits = limits
        self.batch_size = batch_size
        self._cache: OrderedDict[tuple[str, int], ImageTranslator] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def models(self) -> list[ModelEntry]:
        """Every installed model."""
        return self.registry.entries()

    def translator(self, model: str | None = None) -> ImageTranslator:
        """A translator for `model` ('name' or 'name@version'; None = the default model)."""
        name, version = parse_model_ref(model) if model else (None, None)
        entry = self.registry.get(name, version)
        key = (entry.name, entry.version)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            translator = ImageTranslator(
                load_model(entry.path, self.device), self.precision, self.batch_size
            )
            self._cache[key] = translator
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return translator

    def translate_bytes(
        self,
        data: bytes,
        model: str | None = None,
        options: TranslateOptions = TranslateOptions(),
        fmt: ImageFormat = "png",
    ) -> bytes:
        """Decode an untrusted upload, translate it, and encode the side-by-side result."""
        image = decode_image(data, self.limits)
        (result,) = self.translator(model).translate([image], options)
        return encode_image(result.compose(options.panels), fmt)
