"""`beautynet translate` and `beautynet models` end to end, with tiny models."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from beautynet.cli import main
from beautynet.cli.status import CLEAR, working
from tests.conftest import GIF_DURATIONS, animation


def write_inputs(folder: Path, photo, bad_inputs: dict[str, tuple[bytes, str]]) -> None:
    folder.mkdir()
    photo(200, 100).save(folder / "wide.jpg")
    photo(80, 160, seed=1).save(folder / "tall.png")
    for name, (content, _) in bad_inputs.items():
        (folder / name).write_bytes(content)


def test_translate_reports_each_bad_input_and_processes_the_rest(
    data_dir: Path,
    tmp_path: Path,
    photo,
    bad_inputs,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_inputs(tmp_path / "in", photo, bad_inputs)
    out = tmp_path / "out"
    code = main(
        ["translate", str(tmp_path / "in"), "-o", str(out), "--panels", "3", "--model", "tiny"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["tall.png", "wide.png"]
    assert Image.open(out / "wide.png").size == (3 * 64 + 8, 32)
    assert "translated 2 of 6; 4 failed" in captured.out
    assert f"wrote 2 files in {out}{os.sep}" in captured.out  # where the results are
    error_lines = [line for line in captured.err.splitlines() if line.startswith(str(tmp_path))]
    assert len(error_lines) == 4
    for name, (_, message) in bad_inputs.items():
        assert any(name in line and message in line for line in error_lines), name
    assert "Traceback" not in captured.err


def test_single_input_to_a_named_file(
    data_dir: Path, tmp_path: Path, photo, capsys: pytest.CaptureFixture[str]
) -> None:
    photo().save(tmp_path / "a.png")
    target = tmp_path / "result.webp"
    assert (
        main(["translate", str(tmp_path / "a.png"), "-o", str(target), "--model", "tiny-edges"])
        == 0
    )
    said = capsys.readouterr().out.splitlines()
    assert said == ["translated 1 of 1", f"wrote {target} (64×48 panels)"]  # tiny: 64 px
    with Image.open(target) as image:
        assert image.format == "WEBP"


def frames_and_delays(path: Path) -> tuple[int, list[int]]:
    with Image.open(path) as image:
        delays = []
        for index in range(image.n_frames):
            image.seek(index)
            delays.append(image.info["duration"])
        return image.n_frames, delays


def test_an_animated_gif_becomes_an_animated_gif_or_an_mp4(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One rule with the bot and the API: an animation is a clip; the output name says which."""
    source = tmp_path / "anim.gif"
    source.write_bytes(animation())
    gif, mp4 = tmp_path / "out.gif", tmp_path / "out.mp4"
    assert main(["translate", str(source), "-o", str(gif), "--model", "tiny"]) == 0
    assert frames_and_delays(gif) == (len(GIF_DURATIONS), list(GIF_DURATIONS))
    assert main(["translate", str(source), "-o", str(mp4), "--model", "tiny"]) == 0
    assert mp4.read_bytes()[4:8] == b"ftyp"
    assert main(["translate", str(source), "-o", str(tmp_path / "folder"), "--model", "tiny"]) == 0
    assert [p.name for p in (tmp_path / "folder").iterdir()] == ["anim.gif"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture
def umask_027() -> Iterator[int]:
    """A umask other than the usual 022, so that its effect shows; the old one restored."""
    before = os.umask(0o027)
    try:
        yield 0o640  # what 0666 less 027 leaves
    finally:
        os.umask(before)


def test_written_files_get_the_umask_permissions(
    data_dir: Path, tmp_path: Path, photo, umask_027: int
) -> None:
    photo().save(tmp_path / "a.png")
    (tmp_path / "anim.gif").write_bytes(animation())
    outputs = {"a.png": "a.png", "anim.gif": "anim.gif", "clip.mp4": "anim.gif"}
    for output, source in outputs.items():
        target = tmp_path / "out" / output
        assert (
            main(["translate", str(tmp_path / source), "-o", str(target), "--model", "tiny"]) == 0
        )
        assert stat.S_IMODE(target.stat().st_mode) == umask_027, output
    existing = tmp_path / "out" / "a.png"
    existing.chmod(0o604)  # a file written over keeps its own mode, as with a plain open
    assert main(["translate", str(tmp_path / "a.png"), "-o", str(existing), "--model", "tiny"]) == 0
    assert stat.S_IMODE(existing.stat().st_mode) == 0o604


def test_a_failed_output_leaves_no_file_behind(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "anim.gif"
    source.write_bytes(animation())
    png = tmp_path / "out" / "out.png"
    png.parent.mkdir()
    assert main(["translate", str(source), "-o", str(png), "--model", "tiny"]) == 1
    assert "a clip is written as .gif (an animation) or .mp4, not .png" in capsys.readouterr().err
    tight = tmp_path / "out" / "tight.gif"
    code = main(
        ["translate", str(source), "-o", str(tight), "--budget", "0.0001", "--model", "tiny"]
    )
    assert code == 1 and "does not fit" in capsys.readouterr().err
    assert list(png.parent.iterdir()) == []  # nothing half-written, no temporary left


def test_bad_options_are_refused_before_any_work(
    data_dir: Path,
    tmp_path: Path,
    photo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo().save(tmp_path / "a.png")
    assert main(["translate", str(tmp_path / "a.png"), "--model", "tiny-edges", "--k", "3"]) == 2
    assert "k applies only to clusters models" in capsys.readouterr().err
    assert main(["translate", str(tmp_path / "a.png"), "--model", "nope"]) == 2
    assert "no model called 'nope'" in capsys.readouterr().err


def test_the_runtime_is_chosen_by_setting_or_flag_and_checked(
    data_dir: Path,
    tmp_path: Path,
    photo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo().save(tmp_path / "a.png")
    out = tmp_path / "out.png"
    monkeypatch.setenv("BEAUTYNET_RUNTIME", "tensorrt")
    assert main(["translate", str(tmp_path / "a.png"), "-o", str(out), "--model", "tiny"]) == 2
    assert "runtime must be auto or one of" in capsys.readouterr().err and not out.exists()
    argv = ["translate", str(tmp_path / "a.png"), "-o", str(out), "--model", "tiny"]
    assert main([*argv, "--runtime", "onnxruntime-fp32"]) == 0  # the flag wins
    assert out.is_file()


def test_models_lists_what_is_installed(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "VER", "SEGMENTER"]
    rows = {line.split()[1]: line.split() for line in lines[1:] if line.startswith("*")}
    assert {"1", "clusters", "k=7", "user"} <= set(rows["tiny"])
    assert {"1", "edges", "user"} <= set(rows["tiny-edges"])


def test_console_script_exit_code_and_no_traceback(
    data_dir: Path, tmp_path: Path, bad_inputs
) -> None:
    content, message = bad_inputs["truncated.jpg"]
    (tmp_path / "t.jpg").write_bytes(content)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "beautynet",
            "translate",
            str(tmp_path / "t.jpg"),
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_bad_file_is_refused_before_torch_or_a_model_loads(
    data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "text.jpg").write_bytes(b"this is not an image\n")
    script = (
        "import sys; from beautynet.cli import main; "
        f"code = main(['translate', {str(tmp_path / 'text.jpg')!r}]); "
        "print(code, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines()[-1] == "1 False"
    assert "text.jpg: not an image (could not identify format)" in result.stderr


class Terminal(io.StringIO):
    """What a terminal receives (isatty: True), and when it first received anything."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


def test_a_slow_step_says_what_it_does_on_a_terminal_and_clears_its_line() -> None:
    terminal = Terminal()
    with working("loading nature", terminal, after=0):
        assert terminal.written.wait(20)  # the step lasts until the line was shown
    shown = terminal.getvalue()
    assert "loading nature (0 s)" in shown and shown.endswith(CLEAR)


def test_a_quick_step_or_a_pipe_gets_no_line() -> None:
    terminal, pipe = Terminal(), io.StringIO()
    with working("loading nature", terminal, after=60):
        pass  # done long before a line would show
    with working("loading nature", pipe, after=0):
        pipe.write("")  # whatever the step takes, a pipe gets no spinner
    assert terminal.getvalue() == "" and pipe.getvalue() == ""


def test_models_lists_without_torch(data_dir: Path) -> None:
    script = (
        "import sys; from beautynet.cli import main; code = main(['models']); "
        "print(code, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[-1] == "0 False"
    assert any(line.startswith("* tiny ") for line in lines)
