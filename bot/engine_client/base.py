"""The bot's one view of the engine: plain data in, plain data out, no tensors.

Two implementations: `InProcessEngine` (the embedded default: work runs in a worker
thread, off the event loop) and `HttpEngine` (one or more `beautynet engine serve`
services, least-loaded routing with failover). Errors the user may see are raised as
`EngineUserError` with a short message; anything else is an internal failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, Self

from .admin import DatasetAdmin, ModelAdmin, TrainingAdmin

Kind = Literal["image", "clip"]
DEFAULT_BUDGET_BYTES = 10 * 1024 * 1024  # Discord's default upload limit
ProgressCallback = Callable[[int, int], None]  # (done, total), called from a worker thread


class EngineUserError(Exception):
    """Bad input or an impossible request; the message is safe to show to the user."""


class EngineUnavailableError(Exception):
    """No engine could take the job (all down, or all busy); retry later."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class TranslateParams:
    """What the user asked for; None means the model's own setting."""

    model: str | None = None  # "name" or "name@version"; None = the default model
    k: int | None = None
    panels: Literal[2, 3] = 2
    size: int | None = None
    max_seconds: float | None = None  # a clip's length limit, under the engine's own


@dataclass(frozen=True)
class ModelId:
    """One model version, as the engine names it: two fields, never a label to parse."""

    name: str
    version: int

    @property
    def label(self) -> str:
        """How people read it: 'nature v1'."""
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class Translated:
    """An encoded result and how it was made."""

    data: bytes
    filename: str  # "beautynet.png", "beautynet.gif" (an animation) or "beautynet.mp4"
    model: ModelId | None  # the version that made it; None when several did (/compare)
    kind: Kind  # what the engine found the input to be
    width: int
    height: int
    quality_reduced: bool = False
    notes: list[str] = field(default_factory=list)
    duration_s: float | None = None  # a clip's length, as the engine read it
    format_note: str | None = None  # why an animation came back as an MP4
    panel: tuple[int, int] | None = None  # a still image's interpretation: width, height

    @property
    def format(self) -> str:
        """'png', 'gif' or 'mp4', from the file name."""
        return self.filename.rpartition(".")[2]


@dataclass(frozen=True)
class ModelInfo:
    """A model as the bot lists it."""

    name: str
    version: int
    description: str
    segmenter: str  # "clusters k=7" or "edges"
    served: bool  # the version a plain name resolves to
    default: bool  # the default model's served version
    sample_sheet: bytes | None = None

    @property
    def id(self) -> ModelId:
        return ModelId(self.name, self.version)


class EngineClient(ModelAdmin, DatasetAdmin, TrainingAdmin, Protocol):
    """What the bot needs from an engine: translation, the catalogue and its administration."""

    async def translate(
        self,
        data: bytes,
        params: TranslateParams,
        request_id: str,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        progress: ProgressCallback | None = None,
    ) -> Translated:
        """Translate any media of at most budget_bytes: the engine tells a still image (a PNG)
        from a clip (a video: an MP4; an animation: a GIF when it fits, else an MP4)."""
        ...

    async def compare(
        self, data: bytes, models: list[str], request_id: str, budget_bytes: int
    ) -> Translated:
        """One still image through each model ('name@version'), in one labelled grid (PNG)."""
        ...

    async def models(self) -> list[ModelInfo]:
        """Every installed model version."""
        ...

    async def runtimes(self) -> list[str]:
        """How each loaded model runs ('nature v7 on openvino-fp32, batch 1, 2 streams')."""
        ...

    async def start(self) -> Self:
        """Open sessions and background checks; its owner calls it once, before any use."""
        ...

    async def close(self) -> None:
        """Release threads, sessions and connections; its owner calls it once, at the end."""
        ...
