"""The bundled models: present, documented, small enough, and they translate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from beautynet.cli.run import sample_images
from engine.models import ModelEntry, ModelRegistry, load_model
from engine.models.registry import BUNDLED_MODELS_DIR
from engine.pipeline import ImageTranslator
from engine.segment import ClustersConfig, EdgesConfig

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def bundled() -> dict[str, ModelEntry]:
    entries = ModelRegistry(None).entries()
    return {entry.name: entry for entry in entries if entry.bundled}


def test_both_bundled_models_are_there_with_their_provenance(
    bundled: dict[str, ModelEntry],
) -> None:
    assert set(bundled) >= {"nature", "nature-edges"}
    assert bundled["nature"].spec.segmenter == ClustersConfig(k=7)
    assert isinstance(bundled["nature-edges"].spec.segmenter, EdgesConfig)
    for entry in bundled.values():
        # CC-BY-SA-4.0 photos combine with GPL-3.0, not with GPL-2.0-only.
        assert entry.spec.meta.licence.startswith("GPL-3.0-or-later")
        assert "beautiful: 74 images" in entry.spec.meta.training_data
        assert entry.spec.generator.upsample != "transpose"  # grid-free
        assert {"val_l1", "val_psnr", "val_ssim"} <= set(entry.spec.meta.metrics)
    assert (BUNDLED_MODELS_DIR / "MODEL_CARD.md").is_file()
    provenance = BUNDLED_MODELS_DIR / "training-data"
    assert (provenance / "SOURCES.tsv").is_file() and len(
        list(provenance.glob("COPYRIGHT.*"))
    ) == 11
    assert sum(p.stat().st_size for p in BUNDLED_MODELS_DIR.glob("*.pt")) <= 40 * MiB


@pytest.mark.parametrize("name", ["nature", "nature-edges"])
def test_bundled_model_translates_an_everyday_photo(
    bundled: dict[str, ModelEntry], name: str
) -> None:
    model = load_model(bundled[name].path, torch.device("cpu"))
    (result,) = ImageTranslator(model).translate([sample_images()[0][1]])
    original = np.asarray(result.original, dtype=np.float32)
    interpretation = np.asarray(result.interpretation, dtype=np.float32)
    assert interpretation.shape == original.shape
    assert interpretation.std() > 10  # a picture, not a flat colour
    assert np.abs(interpretation - original).mean() > 10  # an interpretation, not a copy


@pytest.mark.parametrize("name", ["nature", "nature-edges"])
def test_bundled_model_answers_a_photo_at_its_own_size(
    bundled: dict[str, ModelEntry], name: str
) -> None:
    model = load_model(bundled[name].path, torch.device("cpu"))
    assert model.enhancer is not None  # issue 36: its detail network ships with it
    translator = ImageTranslator(model)
    photo = dict(sample_images())["coffee"]  # 600 x 400
    (small,) = translator.translate([photo])
    large = translator.detailed(photo, small)
    assert large.interpretation.size == (600, 400) == large.original.size
    down = large.interpretation.resize(small.interpretation.size, Image.Resampling.BOX)
    difference = np.abs(np.asarray(down, np.float32) - np.asarray(small.interpretation, np.float32))
    assert np.median(difference) <= 10  # the same picture, with detail added
