"""The one settings object: environment variables (and an optional `.env`), passed in explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DeviceName = Literal["auto", "cpu", "cuda"]


def default_data_dir() -> Path:
    """Per-user data folder: models, datasets and the SQLite file live there."""
    return Path(user_data_dir("beautynet", appauthor=False))


class Settings(BaseSettings):
    """Runtime configuration; build one in `main()` and hand it to what needs it."""

    model_config = SettingsConfigDict(
        env_prefix="BEAUTYNET_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    device: DeviceName = "auto"
    # How the generator runs: auto (the fastest that keeps the picture here) or one of
    # engine.names.RUNTIMES (checked when the engine is built); one that cannot run here
    # falls back to eager PyTorch.
    runtime: str = "auto"
    max_image_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    # The longest side of a photo's answer when none is asked, where the model has a detail
    # network (never larger than the photo); models without one answer at their own size.
    answer_size: int = Field(default=1024, ge=64, le=2048)
    # `DATABASE_URL` (no prefix, the usual name): PostgreSQL when set, else the SQLite file.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    request_retention_days: int = Field(default=90, ge=0)  # 0 keeps request rows forever

    # ---- Discord bot ----------------------------------------------------------------
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "discord_token")
    )
    # Self-hosted Discord-compatible servers (and the tests' fake Discord).
    discord_api_base: str | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_API_BASE", "discord_api_base")
    )
    discord_gateway_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DISCORD_GATEWAY_URL", "discord_gateway_url"),
    )
    # Where that server's stickers live (Discord: cdn.discordapp.com and media.discordapp.net).
    discord_cdn_base: str | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_CDN_BASE", "discord_cdn_base")
    )
    owner_ids: list[int] = Field(default_factory=list)  # may run admin commands everywhere
    dev_guild_id: int | None = None  # `beautynet bot --sync` syncs here when given no id
    queue_size: int = Field(default=20, ge=1)  # jobs waiting or running, all users
    user_queue: int = Field(default=3, ge=1)  # jobs waiting or running, per user
    user_cooldown_s: float = Field(default=0.0, ge=0)  # between one user's submissions
    max_clip_seconds: float = Field(default=20.0, gt=0)
    engine_workers: int = Field(default=1, ge=1)  # worker threads of the embedded engine
    # The queue lives in the database. On SIGTERM the bot takes no new job and gives those
    # running this long to finish; the rest wait for the next process. On PostgreSQL a
    # process's claim on a job expires this long after the process died (its heartbeat
    # stops); a job that failed or killed its process this many times is settled as failed.
    stop_grace_s: float = Field(default=30.0, ge=0)
    job_claim_s: float = Field(default=30.0, gt=0)
    job_attempts: int = Field(default=3, ge=1)
    # Sharding: unset = discord.py's automatic sharding; processes sharing the database
    # each set the same count and their own ids ("0,1").
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: Annotated[list[int] | None, NoDecode] = None
    # Trainings started from Discord (`/admin retrain`): network width, crop size, length.
    train_ngf: int = Field(default=64, ge=1)
    train_size: int = Field(default=256, ge=32)
    train_epochs: int = Field(default=100, ge=1)
    train_epoch_samples: int = Field(default=256, ge=1)
    # Then a detail network for answers up to 1024 px, as the bundled models have (issue 36),
    # trained this many steps (0: none; unset: as long as the bundled model of the same
    # segmenter, 16,160 for clusters and 3,200 for edges; about 0.37 s a step on 2 CPU cores).
    train_detail_steps: int | None = Field(default=None, ge=0)

    # ---- engine service (`beautynet engine serve`) and the bot's HTTP client ----------
    # `ENGINE_URLS`: comma-separated engine services; empty = the in-process engine.
    engine_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ENGINE_URLS", "engine_urls")
    )
    # `ENGINE_TOKEN`: the bearer token shared by the services and the bot.
    engine_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ENGINE_TOKEN", "engine_token")
    )
    engine_host: str = "127.0.0.1"
    engine_port: int = Field(default=8765, ge=1, le=65535)
    engine_queue_size: int = Field(default=256, ge=1)  # images waiting for the network
    engine_max_batch: int = Field(default=0, ge=0)  # images per generator call; 0: fastest
    engine_batch_wait_ms: float = Field(default=10.0, ge=0)  # wait for a batch to fill
    engine_clip_jobs: int = Field(default=8, ge=1)  # clip jobs kept (running or finished)
    engine_live_sessions: int = Field(default=4, ge=1)  # camera sessions at once
    engine_header_timeout_s: float = Field(default=10.0, gt=0)  # a request head arrives within
    engine_body_timeout_s: float = Field(default=15.0, gt=0)  # each body read brings data within
    # Threads of `engine serve`; 0 sizes them from the machine (see engine/threads.py).
    engine_network_threads: int = Field(default=0, ge=0)  # torch intra-op threads
    engine_codec_threads: int = Field(default=0, ge=0)  # decode/encode workers
    engine_streams: int = Field(default=0, ge=0)  # generator calls at once (exported runtimes)

    @field_validator("discord_token", "engine_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty token (DISCORD_TOKEN, ENGINE_TOKEN) means no token."""
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("discord_api_base", "discord_gateway_url", "discord_cdn_base")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        """Endpoints must be http(s) or ws(s) URLs."""
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"must be an http(s) or ws(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """'0, 2' -> [0, 2]; empty -> None."""
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            return [int(part) for part in parts] or None
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Settings:
        """Shard ids need a shard count, and each must be below it."""
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("BEAUTYNET_SHARD_IDS needs BEAUTYNET_SHARD_COUNT")
            wrong = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if wrong or len(set(self.shard_ids)) != len(self.shard_ids):
                raise ValueError(
                    f"shard_ids={self.shard_ids}: must be distinct, in 0..{self.shard_count - 1}"
                )
        return self

    @field_validator("engine_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        """'http://a:8765, http://b:8765' -> two http(s) URLs without trailing slashes."""
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            for url in value:
                if not str(url).startswith(("http://", "https://")):
                    raise ValueError(f"engine URLs must be http(s) URLs, got {url!r}")
            return [str(url).rstrip("/") for url in value]
        return value

    @property
    def models_dir(self) -> Path:
        """Where trained and imported models are stored."""
        return self.data_dir / "models"

    @property
    def datasets_dir(self) -> Path:
        """Where datasets built by `beautynet dataset add` are stored."""
        return self.data_dir / "datasets"

    @property
    def database_url_or_default(self) -> str:
        """`DATABASE_URL`, or the embedded SQLite file under the data directory."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'beautynet.sqlite3'}"
