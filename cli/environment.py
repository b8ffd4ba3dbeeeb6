"""The environment, read in one place for every adapter: CORRIDOR_* variables (or a .env file in the working
directory) become the core's Settings. Ray's own RAY_ADDRESS is honoured when CORRIDOR_RAY_ADDRESS is not set,
and Hugging Face's HF_HUB_OFFLINE sets ``hub_offline``.
Fields the environment sets are the settings' ``model_fields_set`` (a server worker keeps an explicit
CORRIDOR_REQUEST_THREADS, see api/workers.py)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recommender.settings import Settings


class EnvironmentSettings(Settings, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", env_file=".env", extra="ignore")

    ray_address: str | None = Field(default=None, validation_alias=AliasChoices("CORRIDOR_RAY_ADDRESS",
                                                                                 "RAY_ADDRESS"))
    hub_offline: bool = Field(default=False, validation_alias=AliasChoices("CORRIDOR_HUB_OFFLINE", "HF_HUB_OFFLINE"))

    @field_validator("hub_offline", mode="before")
    @classmethod
    def _hub_flag(cls, value: object) -> object:
        """Read as Hugging Face reads HF_HUB_OFFLINE: 1, ON, YES or TRUE in any case; anything else is off."""
        if isinstance(value, str):
            return value.strip().upper() in {"1", "ON", "YES", "TRUE"}
        return value


def settings_from_environment() -> Settings:
    return EnvironmentSettings()
