"""The engine's front door: one catalogue, one cache of loaded models, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bot.engine_client.inprocess import InProcessEngine
from engine.core import Engine
from engine.errors import ModelError, NotConfiguredError
from engine.models import ModelRegistry
from engine.segment import EdgesConfig
from engine.service import create_app
from engine.service.keys import ENGINE

CPU = torch.device("cpu")


@pytest.fixture
def engine(make_model, tmp_path: Path) -> Engine:
    models = tmp_path / "models"
    make_model("tiny", directory=models)
    make_model("tiny", directory=models, version=2, seed=1)
    make_model("lines", EdgesConfig(), directory=models)
    return Engine(ModelRegistry(models, bundled_dir=tmp_path / "none"), CPU)


def flags(engine: Engine) -> list[tuple[str, int, bool, bool, str]]:
    return [
        (v.entry.name, v.entry.version, v.served, v.default, v.segmenter)
        for v in engine.model_versions()
    ]


def test_the_catalogue_marks_served_and_default_versions(engine: Engine) -> None:
    assert flags(engine) == [  # no promotion yet: the first name is the default
        ("lines", 1, True, True, "edges"),
        ("tiny", 1, True, False, "clusters k=7"),
        ("tiny", 2, False, False, "clusters k=7"),
    ]
    engine.promote("tiny")
    assert [f[2:4] for f in flags(engine)] == [(True, False), (False, False), (True, True)]


def test_a_missing_sample_sheet_is_a_model_error(engine: Engine) -> None:
    with pytest.raises(ModelError, match="tiny v1 has no sample sheet"):
        engine.sample_sheet("tiny", 1)


def test_datasets_and_training_need_their_folders(engine: Engine) -> None:
    with pytest.raises(NotConfiguredError, match="datasets are not configured"):
        engine.datasets()
    with pytest.raises(NotConfiguredError, match="training is not configured"):
        engine.runs_folder()


async def test_both_adapters_share_one_cache_of_loaded_models(
    engine: Engine, tmp_path: Path
) -> None:
    client = InProcessEngine(engine, datasets_dir=tmp_path / "datasets")
    app = create_app(engine, runs_dir=tmp_path / "runs")
    try:
        assert client.engine.datasets_dir == tmp_path / "datasets"
        assert app[ENGINE].runs_dir == tmp_path / "runs" and app[ENGINE].datasets_dir is None
        assert client.engine.translator("tiny") is app[ENGINE].translator("tiny@1")
    finally:
        await client.close()


def test_an_unknown_setting_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="no setting 'model_dir'"):
        engine.configured(model_dir=Path("x"))
