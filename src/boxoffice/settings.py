"""The one Settings object: twelve-factor configuration from the environment.

Boxoffice's own variables carry the ``BOXOFFICE_`` prefix; Stripe's keys keep Stripe's names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./boxoffice.db"
DEV_SECRET_KEY = "dev-insecure-secret-change-me"  # public (it is in the source): refused in production
MIN_SECRET_KEY_BYTES = 32


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (a secret, a URL with a password) is never echoed in the error.
    model_config = SettingsConfigDict(env_prefix="BOXOFFICE_", extra="ignore", hide_input_in_errors=True)

    env: Literal["development", "test", "production"] = "development"
    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)  # may carry a password: read it with database_dsn
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=300)  # then 503 with Retry-After
    redis_url: SecretStr | None = None  # may carry a password: read it with redis_dsn
    redis_prefix: str = "boxoffice:"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    previous_secret_keys: SecretStr | None = None  # comma separated; codes they signed still verify
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
    sse_max_per_address: int = Field(default=20, ge=0)  # open SSE streams per client address; 0 = no cap
    sse_max_streams: int = Field(default=2000, ge=0)  # open SSE streams per process; 0 = no cap
    # The event page as everyone sees it (no code) is rendered at most once per this many seconds per process
    # (web.pages.kept_pages); 0 renders it for every request.
    page_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # How long a worker's claim on an email or outbox message lasts: a worker killed while sending leaves it claimed
    # this long before another worker sends it again. Longer than any one send; drills shorten them.
    email_claim_seconds: float = Field(default=120.0, gt=0)
    outbox_claim_seconds: float = Field(default=60.0, gt=0)
    # Outgoing webhooks (boxoffice.integrations; README "Outgoing webhooks").
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)  # one attempt, connect to last byte
    webhook_max_response_bytes: int = Field(default=16384, ge=0, le=1_048_576)  # read of an answer, then closed
    webhook_retry_seconds: float = Field(default=60.0, gt=0)  # first retry delay; doubles (with jitter)
    webhook_max_retry_delay_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_retry_hours: float = Field(default=72.0, gt=0)  # a delivery is retried this long, then failed
    webhook_disable_after_hours: float = Field(default=24.0, gt=0)  # an endpoint failing this long is disabled
    webhook_claim_seconds: float = Field(default=60.0, gt=0)  # a killed sender's deliveries go out after this
    webhook_max_concurrency: int = Field(default=32, ge=1, le=1000)  # requests in flight per worker process
    webhook_allow_loopback: bool = False  # tests and development only: refused in production
    webhook_log_retention_days: int = Field(default=30, ge=1)
    log_level: str = "INFO"
    # Organizer console (README, "Organizer console"): how long a sign-in lasts, and failed sign-ins allowed per
    # account and per client address in a window before 429 (0 turns one off).
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    sign_in_failures_per_account: int = Field(default=5, ge=0, le=1000)
    sign_in_failures_per_address: int = Field(default=20, ge=0, le=100_000)
    sign_in_window_seconds: int = Field(default=900, ge=1, le=86_400)
    metrics_token: SecretStr | None = None  # GET /metrics answers with `Authorization: Bearer <it>`; unset: no /metrics
    # `boxoffice serve` also serves GET /metrics, without a token, on 127.0.0.1:<this port> (web/metrics_port.py)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

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

    @field_validator("stripe_api_base", "stripe_publishable_key", "trusted_proxy_header", "metrics_port", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "redis_url",
        "smtp_url",
        "stripe_secret_key",
        "stripe_webhook_secrets",
        "previous_secret_keys",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _webhook_claim_outlasts_an_attempt(self) -> Settings:
        """A claim shorter than an attempt would let a second worker send a delivery that is still in flight."""
        if self.webhook_claim_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                "BOXOFFICE_WEBHOOK_CLAIM_SECONDS must be longer than BOXOFFICE_WEBHOOK_TIMEOUT_SECONDS (a claim must "
                "outlast the attempt it covers)"
            )
        return self

    @model_validator(mode="after")
    def _production_secret_key(self) -> Settings:
        """Production refuses the development secret (public: anyone could mint ticket codes) and short keys."""
        if self.env != "production":
            return self
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError(
                "BOXOFFICE_SECRET_KEY is the public development default, which anyone can use to forge ticket codes: "
                "set your own in production (`boxoffice secret` prints a new one)"
            )
        if len(self.secret_bytes) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"BOXOFFICE_SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes: use a long random key in "
                "production (`boxoffice secret` prints a new one)"
            )
        if self.webhook_allow_loopback:
            raise ValueError(
                "BOXOFFICE_WEBHOOK_ALLOW_LOOPBACK is for tests and development: in production no webhook is ever sent "
                "to a loopback address"
            )
        if DEV_SECRET_KEY.encode() in self.previous_secret_bytes:
            raise ValueError(
                "BOXOFFICE_PREVIOUS_SECRET_KEYS holds the public development default: codes it signs can be forged"
            )
        return self

    @property
    def database_dsn(self) -> str:
        """The database URL itself (with its password, if any): for connecting, never for showing."""
        return self.database_url.get_secret_value()

    @property
    def redis_dsn(self) -> str | None:
        """The Redis URL itself (with its password, if any), or ``None``: for connecting, never for showing."""
        return self.redis_url.get_secret_value() if self.redis_url is not None else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_dsn.startswith("sqlite")

    @property
    def secret_bytes(self) -> bytes:
        """The current key: it signs every new ticket code."""
        return self.secret_key.get_secret_value().encode()

    @property
    def previous_secret_bytes(self) -> tuple[bytes, ...]:
        """Keys rotated away that still verify the codes they signed (``BOXOFFICE_PREVIOUS_SECRET_KEYS``)."""
        if self.previous_secret_keys is None:
            return ()
        parts = self.previous_secret_keys.get_secret_value().split(",")
        return tuple(part.strip().encode() for part in parts if part.strip())

    @property
    def signing_keys(self) -> tuple[bytes, ...]:
        """Every key that verifies what Boxoffice signed (order tokens, ticket codes): the current one first."""
        return (self.secret_bytes, *self.previous_secret_bytes)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
