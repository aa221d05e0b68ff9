"""Stripe key configuration: mode from the key prefix, refusal of bad or misplaced keys, the local sandbox fallback.

Keys are held as ``SecretStr`` so that they never reach logs, errors, pages or ``repr()``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from boxoffice.settings import Settings

Mode = Literal["test", "live", "sandbox"]
_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,247}$")
_WHSEC = re.compile(r"^whsec_[A-Za-z0-9+/=_-]{8,}$")
SANDBOX_PATH = "/_sandbox/stripe"


class StripeConfigError(Exception):
    """A Stripe setting that cannot work; the message says which and why, never the secret itself."""


@dataclass(frozen=True)
class StripeConfig:
    mode: Mode
    secret_key: SecretStr
    webhook_secrets: tuple[SecretStr, ...]
    api_base: str | None
    publishable_key: str | None

    @property
    def is_sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def livemode(self) -> bool:
        return self.mode == "live"

    def __repr__(self) -> str:
        return (
            f"StripeConfig(mode={self.mode!r}, secret_key=SecretStr('**********'), "
            f"webhook_secrets={len(self.webhook_secrets)} configured, api_base={self.api_base!r})"
        )


def key_mode(key: str) -> Literal["test", "live"]:
    match = _KEY.match(key)
    if match is None:
        raise StripeConfigError(
            "STRIPE_SECRET_KEY is malformed: expected a secret key (sk_test_..., sk_live_...) or a restricted key "
            "(rk_test_..., rk_live_...)"
        )
    return "live" if match.group(2) == "live" else "test"


def parse_webhook_secrets(raw: str) -> tuple[SecretStr, ...]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    for i, part in enumerate(parts):
        if not _WHSEC.match(part):
            raise StripeConfigError(
                f"STRIPE_WEBHOOK_SECRETS entry {i + 1} is malformed: each secret starts with whsec_"
            )
    return tuple(SecretStr(p) for p in parts)


def load_stripe_config(settings: Settings) -> StripeConfig:
    """The Stripe configuration, or a sandbox one when no key is set outside production. Raises
    ``StripeConfigError`` at start-up.

    Production never runs on the sandbox: its control API has no authentication (it confirms orders without payment,
    lists sessions with their tokens and emails, changes keys), so production needs a key, and ``STRIPE_API_BASE``
    may not point at the in-process sandbox's path either."""
    if settings.env == "production":
        if settings.stripe_secret_key is None:
            raise StripeConfigError(
                "STRIPE_SECRET_KEY is required when BOXOFFICE_ENV is 'production': the local Stripe sandbox (no key) "
                "is a test tool with an unauthenticated control API and never runs in production"
            )
        if settings.stripe_api_base is not None and SANDBOX_PATH in urlsplit(settings.stripe_api_base).path:
            raise StripeConfigError(
                f"STRIPE_API_BASE points at the in-process Stripe sandbox ({SANDBOX_PATH}), which is never mounted "
                "when BOXOFFICE_ENV is 'production'"
            )
    if settings.stripe_secret_key is None:
        key = SecretStr(f"sk_test_sandbox{secrets.token_hex(16)}")
        webhook = SecretStr(f"whsec_sandbox{secrets.token_hex(16)}")
        base = settings.stripe_api_base or settings.public_url.rstrip("/") + SANDBOX_PATH
        return StripeConfig("sandbox", key, (webhook,), base, None)
    key_value = settings.stripe_secret_key.get_secret_value().strip()
    mode = key_mode(key_value)
    if mode == "live" and settings.env != "production":
        raise StripeConfigError(
            "STRIPE_SECRET_KEY is a live key but BOXOFFICE_ENV is not 'production': refusing to take real payments "
            "from a development or test deployment"
        )
    webhooks = (
        parse_webhook_secrets(settings.stripe_webhook_secrets.get_secret_value())
        if settings.stripe_webhook_secrets
        else ()
    )
    if not webhooks:
        raise StripeConfigError(
            "STRIPE_WEBHOOK_SECRETS is required with STRIPE_SECRET_KEY: without it no payment can be confirmed"
        )
    publishable = settings.stripe_publishable_key
    if publishable is not None and not publishable.startswith(f"pk_{mode}_"):
        raise StripeConfigError(f"STRIPE_PUBLISHABLE_KEY must be a pk_{mode}_ key to match the {mode}-mode secret key")
    return StripeConfig(mode, SecretStr(key_value), webhooks, settings.stripe_api_base, publishable)
