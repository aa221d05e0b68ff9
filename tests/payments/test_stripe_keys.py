"""Stripe key configuration: modes, refusals with clear messages, and secrets that never show."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.payments.keys import StripeConfigError, load_stripe_config, parse_webhook_secrets
from boxoffice.settings import Settings

KEY = "sk_test_51AbCdEfGhIjKlMnOpQrStUv"
LIVE = "sk_live_51AbCdEfGhIjKlMnOpQrStUv"
WHSEC = "whsec_0123456789abcdefABCDEF"


def settings(**kw: Any) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


@pytest.mark.parametrize(("key", "mode"), [(KEY, "test"), ("rk_test_51AbCdEfGhIjKl", "test")])
def test_mode_from_prefix(key: str, mode: str) -> None:
    config = load_stripe_config(settings(stripe_secret_key=key, stripe_webhook_secrets=WHSEC))
    assert config.mode == mode
    assert KEY not in repr(config) and WHSEC not in repr(config)


def test_live_key_needs_production() -> None:
    with pytest.raises(StripeConfigError, match="live key but BOXOFFICE_ENV is not 'production'") as exc:
        load_stripe_config(settings(stripe_secret_key=LIVE, stripe_webhook_secrets=WHSEC))
    assert LIVE not in str(exc.value)
    config = load_stripe_config(
        settings(env="production", secret_key="s" * 32, stripe_secret_key=LIVE, stripe_webhook_secrets=WHSEC)
    )
    assert config.livemode


@pytest.mark.parametrize(
    "key", ["sk_test_x1", "pk_test_51AbCdEfGhIj", "sk_prod_51AbCdEfGhIj", "hello", "sk_test_abc def"]
)
def test_malformed_key_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(StripeConfigError, match="malformed") as exc:
        load_stripe_config(settings(stripe_secret_key=key, stripe_webhook_secrets=WHSEC))
    assert key not in str(exc.value)


def test_webhook_secrets_required_and_checked() -> None:
    with pytest.raises(StripeConfigError, match="STRIPE_WEBHOOK_SECRETS is required"):
        load_stripe_config(settings(stripe_secret_key=KEY))
    with pytest.raises(StripeConfigError, match="entry 2 is malformed"):
        parse_webhook_secrets(f"{WHSEC},nope")
    assert len(parse_webhook_secrets(f"{WHSEC}, whsec_ffffffffffffffff")) == 2


def test_no_key_means_sandbox() -> None:
    config = load_stripe_config(settings(public_url="http://127.0.0.1:9000"))
    assert config.is_sandbox and config.api_base == "http://127.0.0.1:9000/_sandbox/stripe"
    assert config.secret_key.get_secret_value().startswith("sk_test_")


def test_publishable_key_must_match_mode() -> None:
    with pytest.raises(StripeConfigError, match="pk_test_"):
        load_stripe_config(
            settings(stripe_secret_key=KEY, stripe_webhook_secrets=WHSEC, stripe_publishable_key="pk_live_x")
        )


def test_settings_repr_hides_secrets() -> None:
    s = settings(stripe_secret_key=KEY, stripe_webhook_secrets=WHSEC, smtp_url="smtp://u:hunter2@mail:25")
    text = repr(s) + str(s.model_dump())
    assert KEY not in text and WHSEC not in text and "hunter2" not in text
