"""The one Settings object: twelve-factor configuration from the environment.

Boxoffice's own variables carry the ``BOXOFFICE_`` prefix; Stripe's keys keep Stripe's names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./boxoffice.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOXOFFICE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = Field(default=10, ge=1, le=200)
    redis_url: str | None = None
    redis_prefix: str = "boxoffice:"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("dev-insecure-secret-change-me")
    hold_minutes: int = Field(default=30, ge=30, le=24 * 60 - 2)
    max_lines_per_order: int = Field(default=20, ge=1, le=100)
    max_quantity_per_line: int = Field(default=50, ge=1, le=1000)
    # Anti-hoarding (README, "Limits against hoarding"); 0 turns one off.
    order_rate_per_minute: int = Field(default=30, ge=0, le=1_000_000)
    order_rate_burst: int = Field(default=20, ge=1, le=1_000_000)
    max_held_tickets_per_email: int = Field(default=20, ge=0)
    max_held_tickets_per_address: int = Field(default=100, ge=0)
    max_free_orders_per_email: int = Field(default=5, ge=0)
    trusted_proxy_header: str | None = None
    smtp_url: SecretStr | None = None
    mail_from: str = "Boxoffice <tickets@boxoffice.localhost>"
    mail_dir: Path = Path("var/mail")
    run_worker: bool = True
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    outbox_retention_hours: int = Field(default=168, ge=1)
    housekeeping_interval_seconds: float = Field(default=3600.0, gt=0)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0)
    stripe_max_concurrency: int = Field(default=64, ge=1, le=1000)
    email_retry_seconds: float = Field(default=5.0, gt=0)
    log_level: str = "INFO"

    stripe_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_SECRET_KEY", "BOXOFFICE_STRIPE_SECRET_KEY")
    )
    stripe_webhook_secrets: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRETS", "BOXOFFICE_STRIPE_WEBHOOK_SECRETS"),
    )
    stripe_api_base: str | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_API_BASE", "BOXOFFICE_STRIPE_API_BASE")
    )
    stripe_publishable_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_PUBLISHABLE_KEY", "BOXOFFICE_STRIPE_PUBLISHABLE_KEY"),
    )

    @field_validator("redis_url", "stripe_api_base", "stripe_publishable_key", "trusted_proxy_header", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("smtp_url", "stripe_secret_key", "stripe_webhook_secrets", mode="before")
    @classmethod
    def _blank_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secret_bytes(self) -> bytes:
        return self.secret_key.get_secret_value().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
