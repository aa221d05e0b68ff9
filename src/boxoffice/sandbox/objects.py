"""Builders for the Stripe objects the sandbox keeps, shaped like Stripe's own (``shared/stripe/fixtures``).

Every builder returns a plain JSON-ready dict: exactly what the API returns and what events carry. Ids follow
Stripe's prefixes (``cs_test_``, ``pi_``, ``ch_``, ``re_``, ``evt_``, ...).
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from boxoffice.sandbox.validation import CheckoutRequest, LineItemRequest

API_VERSION = "2026-10-28.endive"  # what SDK 16.1.0 pins; events are rendered with it
_ALPHABET = string.ascii_letters + string.digits
CARD = "card"
BANK_DEBIT = "us_bank_account"  # the delayed-notification method (Story B of the fixtures)


@dataclass(frozen=True)
class RequestRef:
    """The API request behind an event (``event.request``); events from the hosted page or timers have none."""

    id: str | None = None
    idempotency_key: str | None = None


def now() -> int:
    return int(time.time())


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def new_session_id() -> str:
    return new_id("cs_test", 58)


def request_id() -> str:
    return new_id("req", 14)


def _address() -> dict[str, Any]:
    return {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def line_item(item: LineItemRequest, created: int) -> dict[str, Any]:
    total = item.unit_amount * item.quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": item.currency,
        "description": item.name,
        "metadata": {},
        "price": {
            "id": new_id("price"),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": created,
            "currency": item.currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": new_id("prod", 14),
            "recurring": None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": item.unit_amount,
            "unit_amount_decimal": str(item.unit_amount),
        },
        "quantity": item.quantity,
    }


def checkout_session(session_id: str, request: CheckoutRequest, *, created: int, url: str) -> dict[str, Any]:
    total = request.amount_total
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": request.allow_promotion_codes,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": request.cancel_url,
        "client_reference_id": request.client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": request.currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": {"message": request.submit_message} if request.submit_message else None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": request.customer_email,
        "discounts": [],
        "expires_at": request.expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": request.locale,
        "managed_payments": {"enabled": False},
        "metadata": dict(request.metadata),
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": [CARD, BANK_DEBIT],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": request.submit_type,
        "subscription": None,
        "success_url": request.success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": url,
        "wallet_options": None,
    }


def customer_details(email: str | None, name: str | None) -> dict[str, Any]:
    return {
        "address": _address(),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def payment_intent(session: dict[str, Any], metadata: dict[str, str], method: str, *, created: int) -> dict[str, Any]:
    intent_id = new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('x', 25)[2:]}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": session["currency"],
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": dict(metadata),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": [method],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _card(declined: bool) -> dict[str, Any]:
    return {
        "brand": "visa",
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US",
        "display_brand": "visa",
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": "SandboxCard0002" if declined else "SandboxCard4242",
        "funding": "credit",
        "generated_from": None,
        "last4": "0002" if declined else "4242",
        "networks": {"available": ["visa"], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def _bank_account() -> dict[str, Any]:
    return {
        "account_holder_type": "individual",
        "account_type": "checking",
        "bank_name": "STRIPE TEST BANK",
        "fingerprint": "SandboxBank6789",
        "last4": "6789",
        "routing_number": "110000000",
    }


def payment_method(method: str, *, email: str | None, name: str | None, declined: bool = False) -> dict[str, Any]:
    details = _card(declined) if method == CARD else _bank_account()
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": _address(), "email": email, "name": name, "phone": None, "tax_id": None},
        method: details,
        "created": now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": method,
    }


def _method_details(method: str, amount: int, declined: bool) -> dict[str, Any]:
    if method == CARD:
        card = _card(declined)
        shared = ("brand", "checks", "country", "exp_month", "exp_year", "fingerprint", "funding", "last4")
        details = {key: card[key] for key in (*shared, "regulated_status", "wallet")}
        details.update(
            amount_authorized=None if declined else amount,
            authorization_code=None,
            extended_authorization={"status": "disabled"},
            incremental_authorization={"status": "unavailable"},
            installments=None,
            mandate=None,
            multicapture={"status": "unavailable"},
            network="visa",
            network_token={"used": False},
            network_transaction_id=None,
            overcapture={"maximum_amount_capturable": amount, "status": "unavailable"},
            three_d_secure=None,
            transaction_link_id=None,
        )
        return {"card": details, "type": CARD}
    return {BANK_DEBIT: _bank_account(), "type": BANK_DEBIT}


def charge(
    intent: dict[str, Any], method: dict[str, Any], *, status: str, created: int, declined: bool = False
) -> dict[str, Any]:
    """A charge of the whole PaymentIntent: ``succeeded``, ``pending`` (bank debit) or ``failed``."""
    succeeded = status == "succeeded"
    billing = method["billing_details"]
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn") if succeeded else None,
        "billing_details": {**billing, "address": _address()},
        "calculated_statement_descriptor": "BOXOFFICE SANDBOX",
        "captured": succeeded,
        "created": created,
        "currency": intent["currency"],
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": charge_outcome(status, declined),
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": _method_details(method["type"], intent["amount"], declined),
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def charge_outcome(status: str, declined: bool) -> dict[str, Any] | None:
    if status == "pending":
        return None
    base = {"advice_code": None, "network_advice_code": None, "network_decline_code": None, "risk_level": "normal"}
    if status == "succeeded":
        return {
            **base,
            "network_status": "approved_by_network",
            "reason": None,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        **base,
        "network_status": "declined_by_network",
        "reason": "generic_decline" if declined else None,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def card_declined_error(charge_id: str, method: dict[str, Any]) -> dict[str, Any]:
    """``last_payment_error`` of a declined card (fixture ``event.payment_intent.payment_failed.json``)."""
    return {
        "charge": charge_id,
        "code": "card_declined",
        "decline_code": "generic_decline",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card was declined.",
        "payment_method": method,
        "payment_method_type": CARD,
        "type": "card_error",
    }


def bank_debit_failed_error(charge_id: str, method: dict[str, Any]) -> dict[str, Any]:
    """``last_payment_error`` of a bank debit that failed after processing (the sandbox's choice of code)."""
    return {
        "charge": charge_id,
        "code": "insufficient_funds",
        "doc_url": "https://stripe.com/docs/error-codes/insufficient-funds",
        "message": "The customer's account has insufficient funds to cover this payment.",
        "payment_method": method,
        "payment_method_type": BANK_DEBIT,
        "type": "invalid_request_error",
    }


def refund(
    charge_: dict[str, Any], amount: int, *, reason: str | None, metadata: dict[str, str], created: int
) -> dict[str, Any]:
    card = charge_["payment_method_details"]["type"] == CARD
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge_["id"],
        "created": created,
        "currency": charge_["currency"],
        "customer": None,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"} if card else None,
        "metadata": dict(metadata),
        "payment_intent": charge_["payment_intent"],
        "payment_method": charge_["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def event(kind: str, obj: dict[str, Any], *, request: RequestRef, pending_webhooks: int) -> dict[str, Any]:
    """An Event carrying a snapshot of ``obj`` as it is now."""
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": {"object": copy.deepcopy(obj)},
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request.id, "idempotency_key": request.idempotency_key},
        "type": kind,
    }


def list_object(data: list[dict[str, Any]], url: str, *, has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
