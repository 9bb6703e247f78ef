"""The one settings object: environment variables (and an optional `.env`), passed in explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    max_image_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    # `DATABASE_URL` (no prefix, the usual name): PostgreSQL when set, else the SQLite file.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    request_retention_days: int = Field(default=90, ge=0)  # 0 keeps request rows forever
    store_image_content: bool = False  # operator switch; guilds must opt in as well

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
