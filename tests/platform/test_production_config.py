"""Production refuses unsafe configurations: no Stripe key (the sandbox and its unauthenticated control API), the
public development secret or a short one; the sandbox is never mounted in production. Ticket-code key rotation.
Database and Redis URLs (with their passwords) never show in repr(), str() or logs."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from boxoffice import container
from boxoffice.container import Boxoffice
from boxoffice.notifications.codes import InvalidTicketCode, sign_ticket_code, verify_ticket_code
from boxoffice.payments.keys import SANDBOX_PATH, StripeConfig, StripeConfigError, load_stripe_config
from boxoffice.settings import DEV_SECRET_KEY, Settings
from boxoffice.ticketing.tokens import order_token, token_opens
from boxoffice.web import system
from boxoffice.web.app import create_app

KEY = "sk_test_51ProductionConfigTest"
WHSEC = "whsec_production_config_test_01"
GOOD_SECRET = "a-production-secret-of-at-least-32-bytes-0123456789"
PUBLIC = "https://tickets.example.com"


def production(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "production",
        "public_url": PUBLIC,
        "secret_key": GOOD_SECRET,
        "stripe_secret_key": KEY,
        "stripe_webhook_secrets": WHSEC,
        "database_url": "sqlite+aiosqlite:///:memory:",
        "log_level": "WARNING",
    }
    values.update(overrides)
    if values["secret_key"] is None:  # not set at all: the default
        del values["secret_key"]
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def mounted_paths(box: Boxoffice) -> set[str]:
    return {getattr(route, "path", "") for route in create_app(box=box, migrate_sqlite=False).routes}


async def close(box: Boxoffice) -> None:
    await box.gateway.close()
    await box.db.dispose()


async def test_a_safe_production_configuration_starts_without_the_sandbox() -> None:
    box = Boxoffice(production())
    try:
        assert box.sandbox is None and box.stripe.mode == "test"
        assert SANDBOX_PATH not in mounted_paths(box)
    finally:
        await close(box)


async def test_production_without_a_stripe_key_is_refused() -> None:
    settings = production(stripe_secret_key=None, stripe_webhook_secrets=None)
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY is required when BOXOFFICE_ENV is 'production'"):
        load_stripe_config(settings)
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY"):
        Boxoffice(settings)
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY"):
        create_app(settings)


@pytest.mark.parametrize("base", [f"{PUBLIC}{SANDBOX_PATH}", "http://127.0.0.1:12111"])
def test_stripe_api_base_never_brings_the_sandbox_into_production(base: str) -> None:
    # Without a key: refused whatever STRIPE_API_BASE says.
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY"):
        load_stripe_config(production(stripe_secret_key=None, stripe_webhook_secrets=None, stripe_api_base=base))


def test_stripe_api_base_at_the_in_process_sandbox_is_refused_in_production() -> None:
    for base in (f"{PUBLIC}{SANDBOX_PATH}", f"http://127.0.0.1:8000{SANDBOX_PATH}/"):
        with pytest.raises(StripeConfigError, match="STRIPE_API_BASE") as caught:
            load_stripe_config(production(stripe_api_base=base))
        assert KEY not in str(caught.value)
    # A standalone Stripe double on its own port (stripe-mock, `boxoffice sandbox`) is the operator's choice.
    assert load_stripe_config(production(stripe_api_base="http://127.0.0.1:12111")).mode == "test"


async def test_the_sandbox_is_never_mounted_in_production_even_past_the_key_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Defence in depth: should load_stripe_config ever hand production a sandbox, the container refuses it...
    settings = production()
    sandbox = StripeConfig("sandbox", settings.secret_key, (settings.secret_key,), f"{PUBLIC}{SANDBOX_PATH}", None)
    monkeypatch.setattr(container, "load_stripe_config", lambda _settings: sandbox)
    with pytest.raises(StripeConfigError, match="sandbox"):
        Boxoffice(settings)
    monkeypatch.undo()
    # ...and the app factory does not mount one that a production box somehow carries.
    box = Boxoffice(Settings(_env_file=None, env="test", mail_dir=tmp_path, log_level="WARNING"))  # type: ignore[call-arg]
    try:
        assert box.sandbox is not None and SANDBOX_PATH in mounted_paths(box)
        box.settings = box.settings.model_copy(update={"env": "production"})
        assert SANDBOX_PATH not in mounted_paths(box)
    finally:
        await close(box)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "public development default"),
        (DEV_SECRET_KEY, "public development default"),
        ("short-but-not-default-31-bytes!", "shorter than 32 bytes"),
        ("", "shorter than 32 bytes"),
    ],
)
def test_production_refuses_the_default_or_a_short_secret_key(secret: str | None, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        production(secret_key=secret)
    message = str(caught.value)
    assert "BOXOFFICE_SECRET_KEY" in message and reason in message
    if secret:
        assert secret not in message  # the value itself is never echoed
    # Outside production the same key is accepted (development and tests).
    assert production(secret_key=secret, env="development").env == "development"


def test_production_refuses_the_default_among_previous_keys() -> None:
    with pytest.raises(ValidationError, match="BOXOFFICE_PREVIOUS_SECRET_KEYS") as caught:
        production(previous_secret_keys=f"an-old-key,{DEV_SECRET_KEY}")
    assert DEV_SECRET_KEY not in str(caught.value)
    assert production(previous_secret_keys="an-old-key-that-was-short").previous_secret_bytes == (
        b"an-old-key-that-was-short",
    )


def test_rotated_keys_keep_verifying_codes_while_configured() -> None:
    old, older = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    issued_before = sign_ticket_code("tkt_rotated", old.encode())
    issued_long_ago = sign_ticket_code("tkt_ancient", older.encode())
    rotated = production(secret_key=GOOD_SECRET, previous_secret_keys=f" {old} , {older},")
    assert rotated.previous_secret_bytes == (old.encode(), older.encode())
    assert verify_ticket_code(issued_before, rotated.secret_bytes, rotated.previous_secret_bytes) == "tkt_rotated"
    assert verify_ticket_code(issued_long_ago, rotated.secret_bytes, rotated.previous_secret_bytes) == "tkt_ancient"
    # New codes are signed with the current key, and verify without the previous ones.
    fresh = sign_ticket_code("tkt_new", rotated.secret_bytes)
    assert fresh != sign_ticket_code("tkt_new", old.encode())
    assert verify_ticket_code(fresh, rotated.secret_bytes) == "tkt_new"
    # Once the previous key is removed, its codes no longer verify; a forged code never does.
    done = production(secret_key=GOOD_SECRET)
    assert done.previous_secret_bytes == ()
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(issued_before, done.secret_bytes, done.previous_secret_bytes)
    with pytest.raises(InvalidTicketCode):
        verify_ticket_code(
            sign_ticket_code("tkt_forged", DEV_SECRET_KEY.encode()), rotated.secret_bytes, rotated.previous_secret_bytes
        )
    with pytest.raises(ValueError):
        verify_ticket_code(issued_before, rotated.secret_bytes, [b""])


async def test_database_and_redis_passwords_never_show(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    db_password, redis_password = "db-S3cret-pw", "redis-S3cret-pw"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        database_url=f"postgresql+asyncpg://boxoffice:{db_password}@127.0.0.1:9/boxoffice",
        redis_url=f"redis://:{redis_password}@127.0.0.1:9/0",
        mail_dir=tmp_path,
        log_level="DEBUG",
    )
    shown = repr(settings) + str(settings) + str(settings.model_dump()) + settings.model_dump_json()
    assert db_password not in shown and redis_password not in shown
    assert settings.database_dsn.endswith("@127.0.0.1:9/boxoffice") and db_password in settings.database_dsn
    assert settings.redis_dsn is not None and redis_password in settings.redis_dsn
    assert not settings.is_sqlite
    # A pool size out of range: the error names the field; inputs are never echoed.
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, database_url=settings.database_dsn, database_pool_size=0)  # type: ignore[call-arg]
    assert db_password not in str(caught.value)

    caplog.set_level(logging.DEBUG)
    box = Boxoffice(settings)
    app = create_app(box=box, migrate_sqlite=False)
    await box.start(run_worker=False)
    try:
        await system.readiness_of(app).warm()  # the database is unreachable: logged, with no password
        status, body = await system.readiness_of(app).answer()
        assert status == 503 and body["checks"]["database"].startswith("unreachable")
    finally:
        await box.stop()
    logged = caplog.text + repr(box.db) + repr(box.broker) + str(body)
    assert "unreachable" in logged or caplog.records
    assert db_password not in logged and redis_password not in logged


def test_rotated_keys_keep_opening_orders_while_configured() -> None:
    """Order tokens are derived from the secret key: links emailed before a rotation keep working while the previous
    key is configured, and stop once it is removed."""
    old = secrets.token_urlsafe(32)
    emailed = order_token("ord_rotated", old.encode())
    rotated = production(secret_key=GOOD_SECRET, previous_secret_keys=old)
    assert rotated.signing_keys == (rotated.secret_bytes, old.encode())
    assert token_opens("ord_rotated", None, emailed, rotated.signing_keys)
    assert order_token("ord_rotated", rotated.signing_keys[0]) != emailed  # new links use the current key
    assert not token_opens("ord_rotated", None, emailed, production(secret_key=GOOD_SECRET).signing_keys)
