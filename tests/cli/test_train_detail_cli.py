"""`beautynet train-detail` trains a model's detail network and registers it as a new
version; `models show` says how large it answers (issue 36)."""

from __future__ import annotations

from pathlib import Path

import pytest

from beautynet.cli import main
from engine.datasets import add_sources
from tests.conftest import encoded, photo_like


def test_a_detail_network_is_trained_registered_and_shown(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        (photos / f"{i}.png").write_bytes(encoded(photo_like(160, 120, seed=i)))
    add_sources(data_dir / "datasets", "garden", [photos])
    tiny = ["--channels", "8", "--blocks", "1", "--crop", "64", "--scales", "2"]
    tiny += ["--segmentation", "enlarged", "--picture", "softened", "--periodic", "10"]
    tiny += ["--judged", "detail+whole"]
    command = ["train-detail", "--model", "tiny", "--dataset", "garden", "--steps", "2", *tiny]
    assert main([*command, "--device", "cpu"]) == 0
    said = capsys.readouterr().out
    assert "registered tiny v2, with a detail network" in said
    assert main(["models", "show", "tiny@2"]) == 0
    shown = capsys.readouterr().out
    assert "up to 1024 px: a photo's own size" in shown and "segmentation enlarged" in shown
    assert main(["models", "show", "tiny@1"]) == 0
    assert "64 px (the generator's size; no detail network)" in capsys.readouterr().out


def test_an_unknown_dataset_is_said_before_any_work(data_dir: Path, capsys) -> None:
    command = ["train-detail", "--model", "tiny", "--dataset", "nope", "--steps", "1"]
    assert main(command) == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--picture", "--segmentation"])
def test_what_detail_is_learnt_from_is_one_of_the_known(option: str, capsys) -> None:
    command = ["train-detail", "--model", "tiny", "--dataset", "garden", "--steps", "1"]
    with pytest.raises(SystemExit):
        main([*command, option, "sketch"])
    assert "invalid choice: 'sketch'" in capsys.readouterr().err
