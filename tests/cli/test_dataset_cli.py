"""`beautynet dataset add|list|show|remove` end to end."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beautynet.cli import main


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BEAUTYNET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "datasets"


def test_dataset_commands(
    tmp_path: Path, datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(png(1))
    (photos / "b.png").write_bytes(png(2))
    (photos / "bad.jpg").write_text("nope")

    assert main(["dataset", "add", "garden", str(photos), "--max-side", "20"]) == 0
    out, err = capsys.readouterr()
    assert "garden: added 2, 0 already present, 1 rejected; 2 images in total" in out
    assert f"{photos / 'bad.jpg'}: not an image (could not identify format)" in err.splitlines()
    assert len(list((datasets / "garden" / "images").glob("*.png"))) == 2

    assert main(["dataset", "list"]) == 0
    assert "garden" in capsys.readouterr().out

    assert main(["dataset", "show", "garden"]) == 0
    shown = capsys.readouterr().out
    assert "2 images" in shown and "30x20" in shown and "bad.jpg: not an image" in shown

    assert main(["dataset", "remove", "garden"]) == 0
    assert "removed dataset garden (2 images)" in capsys.readouterr().out
    assert main(["dataset", "show", "garden"]) == 2
    assert "no dataset named 'garden'" in capsys.readouterr().err


def test_dataset_add_exit_codes(
    tmp_path: Path, datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.png"
    junk.write_text("<html>")
    assert main(["dataset", "add", "junk", str(junk)]) == 1
    assert main(["dataset", "add", "Bad Name", str(junk)]) == 2
    assert "dataset name must be" in capsys.readouterr().err
    assert not datasets.exists() or not any(datasets.iterdir())
