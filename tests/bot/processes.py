"""Real bot processes (`python -m beautynet bot`) against the in-test fake Discord: started,
killed (SIGKILL) or stopped (SIGTERM) as an operator or a deploy would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakediscord import FakeDiscord

READY_TIMEOUT = 90.0  # the first start imports torch on 2 busy cores


@dataclass
class BotProcess:
    """One bot process; its log (stderr) goes to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for_log(self, text: str, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never said {text!r}: {self.log()[-3000:]}")
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    async def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as a deploy stops it; returns its exit status."""
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"{self.name} ignored SIGTERM: {self.log()[-3000:]}")
            await asyncio.sleep(0.1)
        return self.process.returncode


@dataclass
class BotProcesses:
    """Starts bot processes on one data folder (and database); stops them all at the end."""

    fake: FakeDiscord
    data_dir: Path
    logs: Path
    environment: dict[str, str] = field(default_factory=dict)
    started: list[BotProcess] = field(default_factory=list)

    async def start(self, name: str = "bot", **settings: str) -> BotProcess:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env.update(
            DISCORD_TOKEN="fake-token",
            DISCORD_API_BASE=self.fake.api_base,
            DISCORD_GATEWAY_URL=self.fake.gateway_url,
            DISCORD_CDN_BASE=f"{self.fake.base_url}/cdn",
            BEAUTYNET_DATA_DIR=str(self.data_dir),
            BEAUTYNET_DEVICE="cpu",
            BEAUTYNET_RUNTIME="eager-fp32",  # nothing to export or measure at start
            BEAUTYNET_USER_COOLDOWN_S="0",
        )
        env.update(self.environment)
        env.update({f"BEAUTYNET_{key.upper()}": value for key, value in settings.items()})
        log_path = self.logs / f"{name}-{len(self.started)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "beautynet", "bot"],
                env=env,
                cwd=self.logs,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        bot = BotProcess(process, log_path, name)
        self.started.append(bot)
        await bot.wait_for_log("connected to Discord")
        return bot

    def stop_all(self) -> None:
        for bot in self.started:
            if bot.process.poll() is None:
                bot.process.kill()
                bot.process.wait(timeout=30)
