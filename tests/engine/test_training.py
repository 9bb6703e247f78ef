"""Training: a step, save-reload-infer, resume after a kill, cancellation, durations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.datasets import add_sources
from engine.errors import TrainingDivergedError
from engine.models import ModelRegistry, load_model
from engine.nets import (
    DiscriminatorConfig,
    EnhancerConfig,
    GeneratorConfig,
    UnetGenerator,
    weights_fit,
)
from engine.pipeline import ImageTranslator
from engine.segment import EdgesConfig
from engine.training import (
    TrainConfig,
    Trainer,
    TrainerCallback,
    TrainingData,
    Validation,
    parse_duration,
    run_training,
)
from engine.training.average import WeightAverage
from engine.training.config import DetailConfig
from engine.training.data import CropSampler, split_holdout

CPU = torch.device("cpu")


def tiny_config(**overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "model_name": "tiny",
        "generator": GeneratorConfig(ngf=4, depth=6),
        "discriminator": DiscriminatorConfig(ndf=4),
        "size": 64,
        "epochs": 2,
        "epoch_samples": 3,
        "checkpoint_interval_s": 3600.0,
    }
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def photo_files(tmp_path: Path, photo) -> list[Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(5):
        photo(96, 80, seed=seed).save(folder / f"p{seed}.png")
    return sorted(folder.glob("*.png"))


def photos(n: int = 3, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(0, 256, (3, 80, 96), dtype=torch.uint8, generator=generator) for _ in range(n)
    ]


def test_one_step_updates_both_networks(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(), photos(), photos(1, seed=1), tmp_path, CPU, precision="fp32")
    g_before = [p.detach().clone() for p in trainer.generator.parameters()]
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    losses = trainer.train_step()
    assert set(losses) == {"d", "g_gan", "g_l1", "g_fm"} and all(
        torch.isfinite(torch.tensor(list(losses.values())))
    )
    assert any(
        not torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters(), strict=True)
    )
    assert any(
        not torch.equal(a, b)
        for a, b in zip(d_before, trainer.discriminator.parameters(), strict=True)
    )
    assert trainer.step == 1


@pytest.mark.parametrize("weight_average", [0.0, 0.9])
def test_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, weight_average: float) -> None:
    config = tiny_config(epochs=2, epoch_samples=3, weight_average=weight_average)  # 6 steps
    straight = Trainer(config, photos(), photos(1, 1), tmp_path / "a", CPU, precision="fp32").run()

    stop = threading.Event()

    class StopAfterThree(TrainerCallback):
        def on_step(self, progress) -> None:
            if progress.step == 3:
                stop.set()

    first = Trainer(
        config,
        photos(),
        photos(1, 1),
        tmp_path / "b",
        CPU,
        [StopAfterThree()],
        stop,
        precision="fp32",
    )
    assert first.run().status == "cancelled" and first.step == 3
    second = Trainer(config, photos(), photos(1, 1), tmp_path / "b", CPU, precision="fp32")
    outcome = second.run(resume=True)
    assert outcome.status == "finished" and outcome.steps == 6
    for a, b in zip(
        straight.generator.state_dict().values(),
        outcome.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.allclose(a, b, atol=1e-6)


def test_validation_writes_metrics_and_a_sample_sheet(tmp_path: Path) -> None:
    seen: list[Validation] = []

    class Collect(TrainerCallback):
        def on_validation(self, validation: Validation) -> None:
            seen.append(validation)

    trainer = Trainer(
        tiny_config(), photos(), photos(2, 1), tmp_path, CPU, [Collect()], precision="fp32"
    )
    trainer.run()
    assert [v.epoch for v in seen] == [1, 2]
    assert set(seen[-1].metrics) == {"l1", "psnr", "ssim"}
    assert 0 < seen[-1].metrics["l1"] < 1 and seen[-1].sample_sheet.is_file()
    assert (tmp_path / "samples" / "latest.png").read_bytes() == seen[-1].sample_sheet.read_bytes()


def test_finished_run_registers_a_model_that_loads_and_translates(
    tmp_path: Path, photo_files: list[Path], photo
) -> None:
    registry = ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none")
    data = TrainingData(photo_files, "5 generated photos", "CC0")
    result = run_training(
        tiny_config(segmenter=EdgesConfig()),
        data,
        tmp_path / "run",
        registry,
        CPU,
        precision="fp32",
    )
    assert result.model is not None and result.model.version == 1
    meta = result.model.spec.meta
    assert meta.licence == "CC0" and "5 generated photos" in meta.training_data
    assert meta.metrics["steps"] == 6 and "val_psnr" in meta.metrics
    assert result.model.sample_sheet is not None
    loaded = load_model(result.model.path, CPU)
    assert loaded.spec.segmenter == EdgesConfig()
    (translation,) = ImageTranslator(loaded, runtime="eager-fp32").translate([photo(120, 90)])
    assert translation.interpretation.size == (64, 48)


def test_a_run_with_a_detail_network_registers_the_model_with_both(tmp_path: Path, photo) -> None:
    """What the bundled models have, a retrain from Discord trains too (issue 36)."""
    paths = []
    for seed in range(4):  # large enough to teach answers twice the model's 64 px
        paths.append(tmp_path / f"large-{seed}.png")
        photo(160, 120, seed=seed).save(paths[-1])
    registry = ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none")
    enhancer = EnhancerConfig(channels=8, blocks=1)
    detail = DetailConfig(enhancer, scales=(2,), crop=64, batch_size=2, steps=2)
    config = tiny_config(epochs=1, detail=detail)
    result = run_training(config, TrainingData(paths, "4 photos"), tmp_path / "run", registry, CPU)
    assert result.model is not None and result.model.version == 1  # one version, both networks
    assert result.model.spec.enhancer == enhancer
    loaded = load_model(result.model.path, CPU)
    assert loaded.enhancer is not None
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["config"]
    assert TrainConfig.from_dict(saved).detail == detail  # the recipe, in the checkpoint
    assert (tmp_path / "run" / "detail" / "detail-checkpoint.pt").is_file()


def test_cancelled_run_registers_nothing(tmp_path: Path, photo_files: list[Path]) -> None:
    registry = ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none")
    stop = threading.Event()
    stop.set()
    result = run_training(
        tiny_config(),
        TrainingData(photo_files, "x"),
        tmp_path / "run",
        registry,
        CPU,
        stop_event=stop,
    )
    assert result.outcome.status == "cancelled" and result.model is None
    assert registry.entries() == []


def test_a_run_can_start_from_a_registered_models_generator(
    tmp_path: Path, photo_files: list[Path]
) -> None:
    registry = ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none")
    data = TrainingData(photo_files, "5 generated photos")
    first = run_training(tiny_config(), data, tmp_path / "first", registry, CPU, precision="fp32")
    assert first.model is not None
    source = load_model(first.model.path, CPU).generator.state_dict()

    stop = threading.Event()
    stop.set()  # no step: the generator is exactly the one it started from
    start = run_training(
        tiny_config(init_from="tiny"), data, tmp_path / "start", registry, CPU, stop_event=stop
    )
    started = start.outcome.generator.state_dict()
    assert all(torch.equal(started[key].half(), source[key]) for key in source)

    tuned = run_training(
        tiny_config(init_from="tiny", epochs=1), data, tmp_path / "tuned", registry, CPU
    )
    assert tuned.model is not None and tuned.model.version == 2
    assert "fine-tuned from tiny@1" in tuned.model.spec.meta.training_data

    wider = tiny_config(init_from="tiny", generator=GeneratorConfig(ngf=8, depth=6))
    with pytest.raises(ValueError, match="init_from: tiny v1 has generator"):
        run_training(wider, data, tmp_path / "wider", registry, CPU)
    other_input = tiny_config(init_from="tiny", segmenter=EdgesConfig())
    with pytest.raises(ValueError, match="tiny v1 reads clusters input, this run reads edges"):
        run_training(other_input, data, tmp_path / "other_input", registry, CPU)


def test_a_run_that_diverges_stops_with_a_clear_error(tmp_path: Path) -> None:
    config = tiny_config()
    broken = UnetGenerator(config.generator).state_dict()
    broken = {key: torch.full_like(value, float("nan")) for key, value in broken.items()}
    trainer = Trainer(
        config, photos(), photos(1, seed=1), tmp_path / "run", CPU, initial_generator=broken
    )
    with pytest.raises(TrainingDivergedError, match=r"training diverged at step 1 \(.*nan"):
        trainer.run()
    assert not trainer.checkpoint_path.exists()  # the ruined weights are not kept


def test_the_weight_average_follows_the_network_with_a_warm_up() -> None:
    network = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(network.weight)
    average = WeightAverage(network, decay=0.5)
    torch.nn.init.ones_(network.weight)
    average.update(network, step=1)  # warm-up: decay 1/10, not 0.5
    assert average.network.weight.item() == pytest.approx(0.9)
    torch.nn.init.constant_(network.weight, 3.0)
    average.update(network, step=100)  # decay 0.5 from here on
    assert average.network.weight.item() == pytest.approx(1.95)
    assert not average.network.weight.requires_grad and not average.network.training
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(network, decay=1.0)


def test_a_run_with_a_weight_average_validates_and_serves_the_average(tmp_path: Path) -> None:
    plain = tiny_config(epochs=1)
    Trainer(plain, photos(), photos(1, 1), tmp_path, CPU, precision="fp32").run()
    averaged = tiny_config(epochs=2, weight_average=0.9)
    trainer = Trainer(averaged, photos(), photos(1, 1), tmp_path, CPU, precision="fp32")
    assert trainer.load_checkpoint()  # a run without an average starts one where it resumes
    started, trained = trainer.served_generator.state_dict(), trainer.generator.state_dict()
    assert all(torch.equal(started[key], trained[key]) for key in trained)
    outcome = trainer.run(resume=True)
    assert outcome.generator is trainer.served_generator is not trainer.generator
    served, trained = outcome.generator.state_dict(), trainer.generator.state_dict()
    assert any(not torch.equal(served[key], trained[key]) for key in trained)
    assert "generator_average" in torch.load(trainer.checkpoint_path, weights_only=True)


def test_crops_vary_and_the_holdout_is_fixed(tmp_path: Path) -> None:
    sampler = CropSampler(photos(2), 32, 0.35, seed=0)
    batch = sampler.batch(4)
    assert batch.shape == (4, 3, 32, 32) and batch.min() >= 0 and batch.max() <= 1
    assert not torch.equal(batch[0], batch[1])
    paths = [tmp_path / f"{i}.png" for i in range(10)]
    assert split_holdout(paths, 0.2, seed=3) == split_holdout(list(reversed(paths)), 0.2, seed=3)
    train, held = split_holdout(paths, 0.2, seed=3)
    assert len(held) == 2 and not set(train) & set(held)
    with pytest.raises(ValueError, match="at least 2 images"):
        split_holdout(paths[:1], 0.2, seed=0)


def test_durations_and_config_validation() -> None:
    assert parse_duration("2h") == 7200 and parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90 and parse_duration("45") == 45
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")
    with pytest.raises(ValueError, match="multiple of 64"):
        tiny_config(size=100)
    with pytest.raises(ValueError, match="weight_average"):
        tiny_config(weight_average=1.0)
    config = tiny_config(segmenter=EdgesConfig(), weight_average=0.99)
    assert TrainConfig.from_dict(config.to_dict()) == config


def _train_command(data_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "beautynet",
        "train",
        "--dataset",
        "gen",
        "--name",
        "killed",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--size",
        "64",
        "--epochs",
        "4",
        "--epoch-samples",
        "6",
        "--checkpoint-every",
        "0",
        "--run-dir",
        str(data_dir / "run"),
        *extra,
    ]


def test_killed_run_resumes_to_the_same_step_count(tmp_path: Path, photo_files: list[Path]) -> None:
    data_dir = tmp_path / "data"
    add_sources(data_dir / "datasets", "gen", [photo_files[0].parent])
    env = {
        **os.environ,
        "BEAUTYNET_DATA_DIR": str(data_dir),
        "BEAUTYNET_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    checkpoint = data_dir / "run" / "checkpoint.pt"
    process = subprocess.Popen(
        _train_command(data_dir), env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(1200):  # a checkpoint is written after every step
            if checkpoint.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    killed_at = torch.load(checkpoint, weights_only=True)["step"]
    assert 1 <= killed_at < 24, "the run was killed before it finished"
    assert not (data_dir / "models").exists()  # nothing registered by a killed run
    done = subprocess.run(
        [*_train_command(data_dir), "--resume"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "registered killed v1" in done.stdout and "steps=24" in done.stdout
    assert torch.load(checkpoint, weights_only=True)["step"] == 24


def test_a_fine_tune_may_add_noise_to_a_generator_without_it(
    tmp_path: Path, photo_files: list[Path]
) -> None:
    registry = ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none")
    data = TrainingData(photo_files, "5 generated photos")
    run_training(tiny_config(), data, tmp_path / "plain", registry, CPU, precision="fp32")
    noisy = tiny_config(init_from="tiny", generator=GeneratorConfig(ngf=4, depth=6, noise=True))
    tuned = run_training(noisy, data, tmp_path / "noisy", registry, CPU)
    assert tuned.model is not None and tuned.model.spec.generator.noise
    strengths = [p for n, p in tuned.outcome.generator.named_parameters() if "strength" in n]
    assert strengths and any(p.abs().max() > 0 for p in strengths)  # trained, not left at 0
    back = tiny_config(init_from="tiny@2")  # noise cannot be taken away
    with pytest.raises(ValueError, match="init_from: tiny v2 has generator"):
        run_training(back, data, tmp_path / "back", registry, CPU)


def test_which_generators_weights_can_start_which() -> None:
    base = GeneratorConfig(ngf=4, depth=6, upsample="nearest")
    assert weights_fit(base, base)
    assert weights_fit(base, replace(base, noise=True))  # noise strengths start at 0
    assert weights_fit(base, replace(base, upsample="bilinear"))  # the same convolutions
    assert weights_fit(replace(base, upsample="bilinear", noise=True), replace(base, noise=True))
    assert not weights_fit(replace(base, noise=True), base)  # noise cannot be taken away
    assert not weights_fit(base, replace(base, upsample="transpose"))  # other layers
    assert not weights_fit(base, replace(base, upsample="pixelshuffle"))
    assert not weights_fit(base, replace(base, ngf=8))
    skip = replace(base, upsample="bilinear", input_skip=True)
    assert weights_fit(replace(base, upsample="bilinear"), skip)  # the input's weights start at 0
    assert weights_fit(base, skip) and not weights_fit(skip, base)
