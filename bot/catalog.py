"""The installed models as the bot shows them, cached briefly (autocomplete runs per keystroke)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from discord import app_commands

from bot.engine_client import EngineClient, ModelId, ModelInfo

CACHE_SECONDS = 30.0
MAX_CHOICES = 25  # Discord's limit
CLUSTERS = re.compile(r"clusters k=(\d+)")


def segmenter_as_run(segmenter: str, k: int | None) -> str:
    """A model's segmenter with the k a request chose: 'clusters k=9' (edges have no k)."""
    return f"clusters k={k}" if k is not None and CLUSTERS.fullmatch(segmenter) else segmenter


class ModelCatalog:
    """Caches `engine.models()`; `invalidate()` after an admin changes the models."""

    def __init__(self, engine: EngineClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        self._models: list[ModelInfo] | None = None
        self._fetched = 0.0

    async def models(self) -> list[ModelInfo]:
        """Every installed model version."""
        if self._models is None or self.clock() - self._fetched > CACHE_SECONDS:
            self._models = await self.engine.models()
            self._fetched = self.clock()
        return self._models

    def invalidate(self) -> None:
        self._models = None

    async def served(self) -> list[ModelInfo]:
        """One entry per name: the version a plain name resolves to."""
        return [model for model in await self.models() if model.served]

    async def find(self, model: ModelId | None) -> ModelInfo | None:
        """The installed version that made a result, if any (None: several did)."""
        return next((m for m in await self.models() if m.id == model), None)

    async def exists(self, ref: str) -> bool:
        """Whether 'name' or 'name@version' names an installed model."""
        name, _, version = ref.partition("@")
        return any(
            m.name == name and (not version or str(m.version) == version)
            for m in await self.models()
        )

    async def choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete: names, then name@version, matching what was typed so far."""
        models = await self.models()
        refs = sorted({m.name for m in models}) + [f"{m.name}@{m.version}" for m in models]
        typed = current.lower()
        matching = [ref for ref in refs if typed in ref.lower()]
        return [app_commands.Choice(name=ref, value=ref) for ref in matching[:MAX_CHOICES]]
