"""Model files and the registry: round trips, clear errors, versions."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from engine.errors import ModelError
from engine.models import ModelMeta, ModelRegistry, ModelSpec, load_model, read_spec, save_model
from engine.nets import UPSAMPLE_KINDS, GeneratorConfig, UnetGenerator
from engine.segment import ClustersConfig, EdgesConfig

CPU = torch.device("cpu")


def spec(name: str = "m", ngf: int = 4) -> ModelSpec:
    meta = ModelMeta(name, description="test", licence="GPL-2+", metrics={"psnr": 20.5})
    return ModelSpec(meta, GeneratorConfig(ngf=ngf, depth=6), ClustersConfig(k=5), size=64)


def test_checkpoint_round_trip_keeps_config_and_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    original = spec()
    generator = UnetGenerator(original.generator).eval()
    path = tmp_path / "m.pt"
    save_model(path, original, generator, dtype=torch.float32)
    loaded = load_model(path, CPU)
    assert loaded.spec == original
    assert not loaded.generator.training
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(loaded.generator(x), generator(x), atol=1e-5)  # channels-last order


FIXTURES = Path(__file__).parent / "fixtures"


def test_v1_model_files_load_with_transposed_convolutions_and_give_the_same_output() -> None:
    # tiny-v1.pt was written before `upsample` was stored; its output was saved by that code.
    model = load_model(FIXTURES / "tiny-v1.pt", CPU)
    assert model.spec.generator.upsample == "transpose"
    x = torch.linspace(-1, 1, 3 * 64 * 64).reshape(1, 3, 64, 64).sin()
    expected = torch.load(FIXTURES / "tiny-v1-output.pt", weights_only=True)
    assert torch.allclose(model.generator(x), expected, atol=1e-5)
    assert GeneratorConfig().upsample != "transpose"  # new models start grid-free


@pytest.mark.parametrize("upsample", UPSAMPLE_KINDS)
def test_every_upsample_kind_is_stored_in_the_model_file(tmp_path: Path, upsample: str) -> None:
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, depth=6, upsample=upsample)  # type: ignore[arg-type]
    original = ModelSpec(spec().meta, config, ClustersConfig(k=5), size=64)
    generator = UnetGenerator(config).eval()
    save_model(tmp_path / "m.pt", original, generator, dtype=torch.float32)
    loaded = load_model(tmp_path / "m.pt", CPU)
    assert read_spec(tmp_path / "m.pt").generator.upsample == upsample
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(loaded.generator(x), generator(x), atol=1e-5)


def test_a_generator_with_an_input_skip_is_stored_and_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, depth=6, upsample="bilinear", noise=True, input_skip=True)
    generator = UnetGenerator(config).eval()
    save_model(tmp_path / "m.pt", ModelSpec(spec().meta, config, EdgesConfig(), 64), generator)
    loaded = load_model(tmp_path / "m.pt", CPU)
    assert loaded.spec.generator == config
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(loaded.generator(x), generator(x), atol=2e-2)  # stored as fp16


def test_fp16_storage_halves_the_file_and_stays_close(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = UnetGenerator(spec(ngf=8).generator).eval()
    save_model(tmp_path / "32.pt", spec(ngf=8), generator, dtype=torch.float32)
    save_model(tmp_path / "16.pt", spec(ngf=8), generator)
    assert (tmp_path / "16.pt").stat().st_size < 0.6 * (tmp_path / "32.pt").stat().st_size
    x = torch.rand(1, 3, 64, 64)
    out = load_model(tmp_path / "16.pt", CPU).generator(x)
    assert torch.allclose(out, generator(x), atol=2e-2)


def test_weights_that_do_not_match_the_config_give_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    save_model(path, spec(), UnetGenerator(GeneratorConfig(ngf=8, depth=6)))  # ngf 8, says 4
    with pytest.raises(ModelError, match="does not match its config"):
        load_model(path, CPU)


def test_foreign_files_are_not_models(tmp_path: Path) -> None:
    (tmp_path / "text.pt").write_text("hello")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    for name in ("text.pt", "other.pt"):
        with pytest.raises(ModelError, match="not a beautynet model file"):
            read_spec(tmp_path / name)
    with pytest.raises(ModelError, match="does not exist"):
        read_spec(tmp_path / "missing.pt")


def test_registry_lists_models_and_resolves_versions(tmp_path: Path, make_model) -> None:
    models = tmp_path / "user"
    make_model("nature", version=1, directory=models)
    make_model("nature", version=2, directory=models)
    make_model("lines", EdgesConfig(), directory=models)
    (models / "broken.pt").write_bytes(b"\x00" * 10)  # skipped, not fatal
    registry = ModelRegistry(models, bundled_dir=tmp_path / "none")
    assert [(e.name, e.version) for e in registry.entries()] == [
        ("lines", 1),
        ("nature", 1),
        ("nature", 2),
    ]
    # A newer version is not served until it is promoted.
    assert (registry.get().name, registry.get().version) == ("nature", 1)
    assert registry.get("nature", 2).version == 2
    with pytest.raises(ModelError, match="no model called 'sky'; available: lines, nature"):
        registry.get("sky")
    with pytest.raises(ModelError, match="has no version 7; versions: 1, 2"):
        registry.get("nature", 7)


def test_register_promote_rollback_delete(tmp_path: Path, make_model) -> None:
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    make_model("nature", directory=bundled)
    make_model("lines", EdgesConfig(), directory=user)
    registry = ModelRegistry(user, bundled_dir=bundled)
    sheet = tmp_path / "sheet.png"
    sheet.write_bytes(b"png")
    new = registry.register(spec("nature"), UnetGenerator(spec().generator), sheet)
    assert new.version == 2 and new.sample_sheet is not None
    assert registry.get().version == 1  # the bundled version stays the default
    registry.promote("lines")
    assert registry.get().name == "lines"  # promotion makes the name the default
    registry.promote("nature", 2)
    assert (registry.get().name, registry.get().version) == ("nature", 2)
    with pytest.raises(ModelError, match="being served"):
        registry.delete("nature", 2)
    assert registry.rollback("nature").version == 1
    with pytest.raises(ModelError, match="no promotion to roll back"):
        registry.rollback("nature")
    registry.delete("nature", 2)
    assert not new.path.exists() and [
        e.version for e in registry.entries() if e.name == "nature"
    ] == [1]
    with pytest.raises(ModelError, match="bundled"):
        registry.delete("nature", 1)


def test_empty_registry_says_how_to_get_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="beautynet train"):
        ModelRegistry(tmp_path, bundled_dir=tmp_path).get()


def test_model_meta_validates_names() -> None:
    with pytest.raises(ValueError, match="model name"):
        ModelMeta("../etc/passwd")


def test_lookups_read_no_model_file_until_the_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.models.registry as registry_module

    models = tmp_path / "models"
    models.mkdir()
    generator = UnetGenerator(spec().generator)
    for version in range(1, 51):
        save_model(
            models / f"m-v{version}.pt",
            ModelSpec(
                ModelMeta("m", version=version), spec().generator, ClustersConfig(k=5), size=64
            ),
            generator,
        )
    reads: list[Path] = []
    monkeypatch.setattr(
        registry_module, "read_spec", lambda path: reads.append(path) or read_spec(path)
    )
    registry = ModelRegistry(models, bundled_dir=tmp_path / "none")
    assert len(registry.entries()) == 50 and len(reads) == 50  # the catalogue, read once
    for _ in range(20):
        assert registry.get("m", 7).version == 7
    registry.promote("m", 3)
    assert registry.get("m").version == 3
    assert len(reads) == 50  # 20 lookups and a promotion read no model file
    (models / "m-v50.pt").unlink()
    assert [e.version for e in registry.entries()][-1] == 49  # a change is seen at once
    registry.register(spec("m"), generator)
    assert registry.get("m", 50).version == 50


def test_the_spec_read_without_torch_is_the_one_torch_reads(tmp_path: Path, make_model) -> None:
    path = make_model("tiny", EdgesConfig(sigma=2.0), version=3)
    assert read_spec(path) == load_model(path, CPU).spec
    for bundled in ModelRegistry(None).entries():  # the shipped files, as torch wrote them
        payload = torch.load(bundled.path, map_location="cpu", weights_only=True, mmap=True)
        assert bundled.spec == ModelSpec.from_dict(payload)


def test_a_model_file_whose_pickle_calls_anything_else_is_refused(tmp_path: Path) -> None:
    """A file that would run code when unpickled (here os.system) is refused, not run."""
    path = tmp_path / "evil.pt"
    call = pickle.dumps(Call(tmp_path / "ran"))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", call)
    with pytest.raises(ModelError, match=r"not a beautynet model file \(UnpicklingError\)"):
        read_spec(path)
    assert not (tmp_path / "ran").exists()


class Call:
    """Unpickled, it would run `touch marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)
