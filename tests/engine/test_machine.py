"""What loading a model measures is kept per machine: the next load on the same machine, of
the same model with the same libraries, measures nothing and chooses the same; another CPU,
model file or library version measures again."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import engine.device
from engine import machine, runtimes
from engine.machine import GRAPHS_KEPT, MachineStore
from engine.runtimes import GeneratorRunner
from tests.engine.test_runtimes import inputs, tiny_generator

SHAPE = (32, 32)


class Counted:
    """How often the slow steps ran: batch timing and graph export."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.timings = self.exports = 0
        measure, export = GeneratorRunner._measure_batches, runtimes._onnx

        def timed(runner: GeneratorRunner, *args: Any) -> dict[str, Any]:
            self.timings += 1
            return measure(runner, *args)

        def exported(*args: Any) -> bytes:
            self.exports += 1
            return export(*args)

        monkeypatch.setattr(GeneratorRunner, "_measure_batches", timed)
        monkeypatch.setattr(runtimes, "_onnx", exported)


@pytest.fixture(autouse=True)
def fp32_only_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about what is kept, not precision: a CPU without native bf16."""
    monkeypatch.setattr(engine.device, "cpu_has_fast_bf16", lambda: False)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    monkeypatch.setattr(runtimes, "_MEASURED", {})  # a new process: nothing measured yet
    return Counted(monkeypatch)


def load(store: MachineStore, requested: str = "auto") -> tuple[GeneratorRunner, int]:
    """A runner as a model load makes one (a new process each time), and its batch size."""
    runtimes._MEASURED.clear()
    runner = GeneratorRunner(tiny_generator(), requested, threads=1, probe=SHAPE, store=store)
    return runner, runner.fastest_batch(*SHAPE, repeats=1)


def test_a_second_load_measures_nothing_and_chooses_the_same(
    tmp_path: Path, counted: Counted
) -> None:
    store = MachineStore(tmp_path / "machine", "model-a")
    first, batch = load(store)
    assert (counted.timings, counted.exports) == (1, 1)
    again, same_batch = load(store)
    assert (counted.timings, counted.exports) == (1, 1)  # nothing measured or exported again
    assert (again.name, same_batch, again.fallbacks) == (first.name, batch, first.fallbacks)
    x = inputs(1, *SHAPE)
    assert torch.allclose(again(x), first(x), atol=1e-5)  # the kept graph is the same network


def test_a_twin_network_measured_in_this_process_is_kept_for_the_second_model_too(
    tmp_path: Path, counted: Counted
) -> None:
    """Two models of one network (nature, nature-edges) share its timing in a process, and
    each keeps it: the next process that loads the second one first measures nothing."""
    folder = tmp_path / "machine"
    _, batch = load(MachineStore(folder, "model-a"))
    second = GeneratorRunner(
        tiny_generator(), threads=1, probe=SHAPE, store=MachineStore(folder, "model-b")
    )
    assert second.fastest_batch(*SHAPE, repeats=1) == batch  # the twin's, same process
    assert counted.timings == 1
    _, again = load(MachineStore(folder, "model-b"))  # a new process, model-b first
    assert (counted.timings, again) == (1, batch)


@pytest.mark.parametrize(
    "change", ["another CPU", "the oneDNN cap", "another torch", "another model file"]
)
def test_another_machine_model_or_library_measures_again(
    tmp_path: Path, counted: Counted, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    folder = tmp_path / "machine"
    load(MachineStore(folder, "model-a"))
    model = "model-a"
    if change == "another CPU":
        monkeypatch.setattr(machine, "cpu_identity", lambda: "model name: another CPU")
    elif change == "the oneDNN cap":  # another cap than the one this run may have been given
        other = "AVX2" if os.environ.get("ONEDNN_MAX_CPU_ISA") != "AVX2" else "AVX512_CORE"
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", other)
    elif change == "another torch":
        versions = {**machine.library_versions(), "torch": "99.0"}
        monkeypatch.setattr(machine, "library_versions", lambda: versions)
    else:
        model = "model-b"
    load(MachineStore(folder, model))
    assert counted.timings == 2
    assert counted.exports == (2 if change in ("another torch", "another model file") else 1)


def test_a_runtime_that_could_not_run_is_not_tried_again(
    tmp_path: Path, counted: Counted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` fails
    store = MachineStore(tmp_path / "machine", "model-a")
    first, _ = load(store)
    assert first.name == "onnxruntime-fp32" and first.fallbacks == ["openvino is not installed"]
    tried: list[str] = []
    build = runtimes._backend
    monkeypatch.setattr(
        runtimes, "_backend", lambda name, *a: tried.append(name) or build(name, *a)
    )
    again, _ = load(store)
    assert tried == ["onnxruntime-fp32"]  # straight to what was chosen here
    assert again.fallbacks == first.fallbacks  # and still says why


def test_what_is_kept_names_what_it_depends_on(tmp_path: Path, counted: Counted) -> None:
    load(MachineStore(tmp_path / "machine", "model-a"), "onnxruntime-fp32")
    (kept,) = (tmp_path / "machine" / "measured").glob("*.json")
    record = json.loads(kept.read_text())
    identity, measured = record["identity"], record["measured"]
    assert identity["model"] == "model-a"
    assert identity["candidates"] == ["onnxruntime-fp32", "eager-fp32"]
    assert identity["torch"] == torch.__version__ and identity["cpus"] == os.cpu_count()
    assert measured["runtime"] == "onnxruntime-fp32"
    timing = measured["batches"]["32x32"]
    assert timing["chosen"] in timing["choices"] and set(timing["ms_per_image"]) <= {
        str(size) for size in timing["choices"]
    }


def test_only_the_most_recently_used_graphs_stay(tmp_path: Path) -> None:
    store = MachineStore(tmp_path / "machine", "model-a")
    for size in range(GRAPHS_KEPT + 2):
        store.keep_graph(f"{size}x{size}", f"graph {size}".encode())
        os.utime(store._graph_path(f"{size}x{size}"), ns=(size, size))  # written in this order
    assert store.graph("0x0") is None and store.graph("1x1") is None
    assert store.graph("2x2") == b"graph 2"
    kept = list((tmp_path / "machine" / "graphs").iterdir())
    assert len(kept) == GRAPHS_KEPT


def test_an_unwritable_folder_measures_every_time_and_says_so(
    tmp_path: Path, counted: Counted, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    store = MachineStore(blocked / "machine", "model-a")
    runner, _ = load(store)
    load(store)
    assert counted.timings == 2 and runner.name == "openvino-fp32"
    assert "cannot keep" in caplog.text
