"""`beautynet --help` starts fast: the commands' modules (torch, discord.py) load only to run."""

from __future__ import annotations

import subprocess
import sys
import time

HEAVY = ("torch", "discord", "PIL", "engine", "bot", "infra", "sqlalchemy", "pydantic")


def fastest_run(argv: list[str], runs: int = 5) -> float:
    """The shortest of `runs` wall times: the least disturbed by other work on the machine."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        times.append(time.perf_counter() - start)
    return min(times)


def test_help_costs_little_more_than_starting_python() -> None:
    bare = fastest_run([sys.executable, "-c", "pass"])
    help_ = fastest_run([sys.executable, "-m", "beautynet", "--help"])
    # Python alone starts in ~20 ms; importing torch and discord.py took beautynet 100x that.
    assert help_ / bare < 4, f"--help {help_ * 1000:.0f} ms, python -c pass {bare * 1000:.0f} ms"


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from beautynet.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "[]"
    assert "translate" in done.stdout and "engine" in done.stdout  # every command is listed


def test_a_command_s_own_help_lists_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "beautynet", "train", "--help"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "--gan-loss" in done.stdout and "hinge" in done.stdout
