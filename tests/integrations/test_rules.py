"""The pure parts of outgoing webhooks: the README's verification snippet is the module the tests verify with, the
signature is Stripe's scheme, URLs and addresses follow the policy, every domain event maps to a listed type."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from boxoffice.errors import ErrorCode
from boxoffice.integrations import catalog
from boxoffice.integrations.addresses import URL_PATTERN, UrlPolicy, refusal, url_errors
from boxoffice.integrations.signing import new_secret, signature_header
from boxoffice.integrations.verify import WebhookSignatureError, verify_webhook
from boxoffice.settings import Settings
from boxoffice.web.api.fields import python_pattern

ROOT = Path(__file__).resolve().parents[2]
VERIFY = ROOT / "src" / "boxoffice" / "integrations" / "verify.py"


def readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Outgoing webhooks", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return str(code)


def test_the_readme_shows_exactly_the_verify_module() -> None:
    assert readme_snippet() == VERIFY.read_text()


def test_the_readme_snippet_run_on_its_own_verifies_a_signed_body() -> None:
    module = types.ModuleType("integrator_copy")
    exec(compile(readme_snippet(), "README.md", "exec"), module.__dict__)  # as an integrator who pasted it
    body = json.dumps({"id": "evt_1", "type": "order.confirmed"}).encode()
    secret = new_secret()
    header = signature_header(body, [secret], int(time.time()))
    assert module.verify_webhook(body, header, secret)["id"] == "evt_1"
    with pytest.raises(module.WebhookSignatureError):
        module.verify_webhook(body, header, new_secret())


def test_the_signature_is_stripes_scheme() -> None:
    body, secret, t = b'{"id":"evt_1"}', "whsec_abc", 1_800_000_000
    expected = hmac.new(b"whsec_abc", b"1800000000." + body, hashlib.sha256).hexdigest()
    assert signature_header(body, [secret], t) == f"t={t},v1={expected}"
    two = signature_header(body, [secret, "whsec_old"], t)
    assert two.startswith(f"t={t},v1={expected},v1=") and two.count("v1=") == 2


def test_verification_refuses_what_it_must() -> None:
    body, secret = b'{"id":"evt_1"}', new_secret()
    now = int(time.time())
    good = signature_header(body, [secret], now)
    assert verify_webhook(body, good, secret) == {"id": "evt_1"}
    assert verify_webhook(body, signature_header(body, ["whsec_other", secret], now), secret)  # any v1 may match
    for header in (
        None,
        "",
        "v1=abc",
        f"t={now}",
        f"t=x{now},v1=abc",
        signature_header(body, [secret], now - 301),  # stale
        signature_header(body, [secret], now + 301),  # from the future
        signature_header(body, ["whsec_other"], now),
        good.replace("v1=", "v1=0"),
        f"t={now},v1=é",
    ):
        with pytest.raises(WebhookSignatureError):
            verify_webhook(body, header, secret)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(body + b" ", good, secret)
    assert verify_webhook(body, signature_header(body, [secret], now - 10_000), secret, tolerance=0)


def test_secrets_are_prefixed_and_random() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50 and all(s.startswith("whsec_") and len(s) >= 48 for s in made)


OPEN = UrlPolicy(https_only=False, allow_loopback=False)
PRODUCTION = UrlPolicy(https_only=True, allow_loopback=False)


@pytest.mark.parametrize(
    ("url", "policy", "code"),
    [
        ("https://hooks.example.com/in?x=1", PRODUCTION, None),
        ("HTTPS://Hooks.Example.com:8443/in", PRODUCTION, None),
        ("http://hooks.example.com/in", PRODUCTION, ErrorCode.HTTPS_REQUIRED),
        ("http://hooks.example.com/in", OPEN, None),
        ("http://127.0.0.1:9000/in", OPEN, ErrorCode.FORBIDDEN_ADDRESS),
        ("http://127.0.0.1:9000/in", UrlPolicy(https_only=False, allow_loopback=True), None),
        ("http://[::1]:9000/in", UrlPolicy(https_only=False, allow_loopback=True), None),
        ("http://10.0.0.1/in", UrlPolicy(https_only=False, allow_loopback=True), ErrorCode.FORBIDDEN_ADDRESS),
        ("http://LOCALHOST./in", OPEN, ErrorCode.FORBIDDEN_ADDRESS),
        ("https://[2001:db8::1]/in", PRODUCTION, ErrorCode.FORBIDDEN_ADDRESS),  # documentation range: not global
        ("https://[2606:4700::1111]/in", PRODUCTION, None),
        ("", PRODUCTION, ErrorCode.REQUIRED),
        ("https://", PRODUCTION, ErrorCode.INVALID_FORMAT),
        ("https://a b.example.com/", PRODUCTION, ErrorCode.INVALID_FORMAT),
        ("javascript:alert(1)", OPEN, ErrorCode.INVALID_FORMAT),
        ("https://example.com:0/", PRODUCTION, ErrorCode.INVALID_FORMAT),
    ],
)
def test_url_rules(url: str, policy: UrlPolicy, code: ErrorCode | None) -> None:
    errors = url_errors(url, policy)
    assert [e.code for e in errors] == ([code] if code else [])
    assert all(e.field == "url" for e in errors)


def test_the_schema_pattern_admits_no_url_the_rules_call_malformed_syntax() -> None:
    pattern = python_pattern(URL_PATTERN)
    for good in ("https://hooks.example.com/in?x=1", "http://[2606:4700::1111]:8080/", "HTTP://h/"):
        assert pattern.search(good)
    for bad in ("ftp://h/", "https://u@h/", "https://h/#f", "https://h /", "https://h/\u0000", "h/"):
        assert not pattern.search(bad)


def test_loopback_is_opened_by_the_setting_and_nothing_else() -> None:
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        ip = ipaddress.ip_address(address)
        assert refusal(ip) == "loopback address" and refusal(ip, allow_loopback=True) is None
    for address in ("10.0.0.1", "fe80::1", "169.254.169.254", "fc00::1", "2002:a00:1::", "2001:0:4136:e378::1"):
        assert refusal(ipaddress.ip_address(address), allow_loopback=True) is not None
    assert refusal(ipaddress.ip_address("fe80::1%eth0")) is not None
    assert refusal(ipaddress.ip_address("1.1.1.1")) is None


def test_every_domain_event_maps_to_a_listed_type_and_every_listed_type_is_subscribable() -> None:
    assert set(catalog.FROM_DOMAIN.values()) == set(catalog.EVENT_TYPES)
    assert catalog.webhook_type("order.partially_refunded") == "order.refunded"
    assert catalog.webhook_type("availability") is None and catalog.webhook_type("order.failed") is None
    assert catalog.subscribed(["*"], "checkin.created") and not catalog.subscribed(["order.created"], "order.expired")


def test_an_event_body_is_versioned_json() -> None:
    created = datetime(2027, 3, 1, 19, 0, tzinfo=UTC)
    data = catalog.event_data(
        "order.partially_refunded",
        {
            "order_id": "ord_1",
            "event_id": "ev_1",
            "status": "partially_refunded",
            "previous_status": "confirmed",
            "refunded_cents": 500,
            "total_cents": 2000,
            "currency": "eur",
            "email": "a@example.com",
        },
    )
    body = json.loads(catalog.event_body("evt_1", "order.refunded", created, data))
    assert body == {
        "id": "evt_1",
        "object": "event",
        "type": "order.refunded",
        "api_version": catalog.API_VERSION,
        "created": int(created.timestamp()),
        "data": {
            "previous_status": "confirmed",
            "object": {
                "id": "ord_1",
                "object": "order",
                "event_id": "ev_1",
                "status": "partially_refunded",
                "email": "a@example.com",
                "currency": "eur",
                "total_cents": 2000,
                "refunded_cents": 500,
            },
        },
    }
    assert catalog.order_key({"ticket_id": "tkt_1"}, "evt_x") == "tkt_1"
    assert catalog.order_key({"order_id": "ord_1", "ticket_id": "tkt_1"}, "evt_x") == "ord_1"
    assert catalog.order_key({}, "evt_x") == "evt_x"


def test_production_refuses_loopback_webhooks_and_a_claim_shorter_than_an_attempt() -> None:
    production: dict[str, Any] = {
        "env": "production",
        "secret_key": "a-production-secret-of-at-least-32-bytes-0123456789",
        "stripe_secret_key": "sk_test_51WebhookSettings",
        "stripe_webhook_secrets": "whsec_webhook_settings",
    }
    assert not Settings(_env_file=None, **production).webhook_allow_loopback  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="BOXOFFICE_WEBHOOK_ALLOW_LOOPBACK"):
        Settings(_env_file=None, webhook_allow_loopback=True, **production)  # type: ignore[call-arg]
    assert Settings(_env_file=None, env="test", webhook_allow_loopback=True).webhook_allow_loopback  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="BOXOFFICE_WEBHOOK_CLAIM_SECONDS"):
        Settings(_env_file=None, webhook_timeout_seconds=30, webhook_claim_seconds=20)  # type: ignore[call-arg]


def test_by_default_a_delivery_is_retried_for_3_days_and_an_endpoint_disabled_after_a_day() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.webhook_retry_hours == 72 and defaults.webhook_disable_after_hours == 24
    assert defaults.webhook_retry_seconds == 60 and defaults.webhook_max_retry_delay_seconds == 6 * 3600
    assert defaults.webhook_timeout_seconds == 10 and defaults.webhook_max_response_bytes == 16384
    assert not defaults.webhook_allow_loopback


def test_the_domain_events_of_check_in_and_the_waiting_list_go_out_under_their_webhook_types() -> None:
    assert catalog.webhook_type("checkin.created") == "checkin.created"  # recorded by checkin.scan
    assert catalog.webhook_type("waitlist.offered") == "waiting_list.offered"  # recorded by ticketing.waitlist_offers
    assert catalog.webhook_type("checkin.undone") is None  # not a webhook type
