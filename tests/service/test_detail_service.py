"""The service answers a photo at its own size with a model that has a detail network
(issue 36), up to the engine's largest; clips and the live camera keep the model's size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.core import Engine
from engine.imaging import decode_image, encode_image
from engine.models import ModelRegistry
from engine.nets import EnhancerConfig
from tests.conftest import MakeModel, photo_like

from .conftest import Service


@pytest.fixture
def engine(make_model: MakeModel, tmp_path: Path) -> Engine:
    models = tmp_path / "models"
    make_model("tiny", directory=models, enhancer=EnhancerConfig(channels=8, blocks=1))
    registry = ModelRegistry(models, bundled_dir=tmp_path / "none")
    return Engine(registry, torch.device("cpu"), batch_size=1, streams=1, largest=256)


@pytest.mark.parametrize(
    ("photo_size", "size", "panel"),
    [((200, 150), None, "200x150"), ((600, 400), None, "256x170"), ((600, 400), 128, "128x84")],
)
async def test_a_photo_is_answered_at_its_own_size(
    service: Service, photo_size: tuple[int, int], size: int | None, panel: str
) -> None:
    fields = {} if size is None else {"size": size}
    form = service.form(encode_image(photo_like(*photo_size), "png"), **fields)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 200, await response.text()
        assert response.headers["X-Panel-Size"] == panel
        body = await response.read()
    height = int(panel.split("x")[1])
    assert decode_image(body).size[1] == height  # the original beside it, at the same size
