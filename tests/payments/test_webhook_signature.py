"""Stripe-Signature verification, checked against the official SDK's own signer and verifier."""

from __future__ import annotations

import time

import pytest
import stripe

from boxoffice.payments.webhooks import SignatureError, sign_payload, verify_signature

OLD = "whsec_old_secret_0123456789"
NEW = "whsec_new_secret_9876543210"
BODY = b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {}}}'


def test_sdk_signed_payload_verifies() -> None:
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), OLD)  # type: ignore[attr-defined]
    assert verify_signature(BODY, header, [OLD])


def test_our_signature_verifies_with_the_sdk() -> None:
    header = sign_payload(BODY, [OLD])
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, OLD, tolerance=300)


def test_rolled_secrets_any_v1_against_any_secret() -> None:
    both = sign_payload(BODY, [OLD, NEW])
    assert verify_signature(BODY, both, [NEW])
    assert verify_signature(BODY, sign_payload(BODY, [OLD]), [NEW, OLD])
    with pytest.raises(SignatureError):
        verify_signature(BODY, sign_payload(BODY, [OLD]), [NEW])


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=abc,v1=00", "v1=deadbeef", "t=123", "t=1,v0=abc"],
)
def test_malformed_headers_rejected(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_signature(BODY, header, [OLD])


def test_stale_signature_rejected_and_tampered_body_rejected() -> None:
    stale = sign_payload(BODY, [OLD], timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(BODY, stale, [OLD])
    with pytest.raises(SignatureError):
        verify_signature(BODY + b" ", sign_payload(BODY, [OLD]), [OLD])


@pytest.mark.parametrize(
    "header",
    ["t={t},v1=\u00e9\u00e9", "t={t},v1=\u2603", "t={t},v1=ab\u00ffcd", "t=\u0661\u0662\u0663,v1=00", "t=\u00b2,v1=00"],
)
def test_non_ascii_header_is_a_signature_error(header: str) -> None:
    # compare_digest raises TypeError on non-ASCII str, and int() takes other scripts' digits: both are bad input.
    with pytest.raises(SignatureError, match="malformed"):
        verify_signature(BODY, header.format(t=int(time.time())), [OLD])
