"""The one Settings object. Only the adapters (CLI, API) read it; the core receives plain values."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Read once from CORRIDOR_* environment variables (or a .env file)."""

    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", env_file=".env", extra="ignore")

    data_dir: Path = PROJECT_ROOT / "data"
    # Writable state: user-added organisations, embedding cache, trained models, feedback.
    state_dir: Path = PROJECT_ROOT / "var"
    # Sentence-transformers model: a local path or a name; empty means the bundled all-MiniLM-L6-v2.
    encoder_model: str = ""
    encoder_batch_size: int = 64

    @property
    def catalogue_dir(self) -> Path:
        return self.data_dir / "catalogue"

    @property
    def curated_file(self) -> Path:
        return self.data_dir / "curated" / "defence_organisations.yaml"

    @property
    def taxonomy_file(self) -> Path:
        return self.data_dir / "taxonomy" / "priorities.yaml"

    @property
    def rules_file(self) -> Path:
        return self.data_dir / "rules" / "instruments.yaml"

    @property
    def user_organisations_file(self) -> Path:
        return self.state_dir / "user_organisations.parquet"


def get_settings() -> Settings:
    return Settings()
