"""The wheel is the whole program: installed (not editable) into a fresh venv, away from the
checkout, it migrates its database, translates with its bundled model and serves its page.

Installing torch and the other dependencies into a fresh venv would take minutes, so the
fresh venv sees the project venv's site-packages through a `.pth` path line (a plain path:
the `.pth` files in there, among them the checkout's editable install, are not run) and the
wheel is installed with `--no-deps`. What is tested is what the wheel itself carries: the
code, the migrations, the bundled weights and the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import pytest

from bench.load import free_port
from engine.imaging import encode_image
from tests.conftest import photo_like

ROOT = Path(__file__).resolve().parents[2]
# What a build needs (the Dockerfile copies the same).
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "LICENSE",
    "migrations",
    "beautynet",
    "engine",
    "bot",
    "infra",
)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the project's wheel, built from a copy of the sources."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(work)]
    built = subprocess.run([*build, str(source)], check=True, capture_output=True, timeout=120)
    (work / "build.log").write_bytes(built.stdout + built.stderr)  # the backend's own words
    (wheel,) = work.glob("beautynet-*.whl")
    target = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = [*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=120)
    return target


def beautynet(venv: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv / "bin" / "beautynet", *argv],
        cwd=cwd,
        env=environment(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )


def environment(data: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "DISCORD_TOKEN", "ENGINE_TOKEN", "DATABASE_URL")
    }
    return {**env, "BEAUTYNET_DATA_DIR": str(data / "data"), "BEAUTYNET_DEVICE": "cpu"}


def test_the_build_warns_of_nothing_of_ours(venv: Path) -> None:
    log = (venv.parent / "build.log").read_text()
    assert "running bdist_wheel" in log  # the backend's output is there to be read
    for warning in ("BuildBackendWarning", "SetuptoolsDeprecationWarning", "would be ignored"):
        assert warning not in log


def test_the_code_comes_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import infra.db.schema as s; print(s.migrations_dir())"],
        cwd=tmp_path,
        env=environment(tmp_path),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith("infra/db/migrations")


def test_db_upgrade_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    done = beautynet(venv, tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "schema at" in done.stdout
    assert beautynet(venv, tmp_path, "db", "current").returncode == 0


def test_translate_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(encode_image(photo_like(96, 64), "png"))
    done = beautynet(venv, tmp_path, "translate", "photo.png", "-o", "out.png")
    assert done.returncode == 0, done.stderr
    assert "wrote out.png" in done.stdout
    assert (tmp_path / "out.png").stat().st_size > 0  # by the bundled default model


def test_run_from_the_wheel_serves_the_page(venv: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**environment(tmp_path), "BEAUTYNET_ENGINE_PORT": str(port)}
    process = subprocess.Popen(
        [venv / "bin" / "beautynet", "run"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        told: list[str] = []
        while not told or "open http" not in told[-1]:
            line = process.stderr.readline()
            assert line, f"beautynet run exited: {''.join(told)}"
            told.append(line)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert b"beautynet" in page.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.js", timeout=30) as js:
            assert js.status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
