"""Validation of the parameters the sandbox accepts, with Stripe's error codes and ``param`` paths.

Parameter names come from Stripe's OpenAPI spec (API 2023-08-16, ``shared/stripe/openapi-subset.json``) plus the
names SDK 16.1.0 added since ("Drift" in ``shared/stripe/README.md``); anything else is ``parameter_unknown``, as
Stripe answers. Only what Boxoffice sends is checked in depth; other known parameters are accepted and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from boxoffice.sandbox.errors import SandboxError, invalid, invalid_integer, missing, unknown_parameter

# POST /v1/checkout/sessions: the spec's request body properties ...
CHECKOUT_CREATE_SPEC_PARAMS = frozenset(
    {
        "after_expiration",
        "allow_promotion_codes",
        "automatic_tax",
        "billing_address_collection",
        "cancel_url",
        "client_reference_id",
        "consent_collection",
        "currency",
        "custom_fields",
        "custom_text",
        "customer",
        "customer_creation",
        "customer_email",
        "customer_update",
        "discounts",
        "expand",
        "expires_at",
        "invoice_creation",
        "line_items",
        "locale",
        "metadata",
        "mode",
        "payment_intent_data",
        "payment_method_collection",
        "payment_method_options",
        "payment_method_types",
        "phone_number_collection",
        "setup_intent_data",
        "shipping_address_collection",
        "shipping_options",
        "submit_type",
        "subscription_data",
        "success_url",
        "tax_id_collection",
    }
)
# ... and the ones SDK 16.1.0 added since.
CHECKOUT_CREATE_DRIFT_PARAMS = frozenset(
    {
        "adaptive_pricing",
        "allowed_payment_method_types",
        "branding_settings",
        "customer_account",
        "excluded_payment_method_types",
        "integration_identifier",
        "managed_payments",
        "name_collection",
        "optional_items",
        "origin_context",
        "payment_method_configuration",
        "payment_method_data",
        "permissions",
        "redirect_on_completion",
        "return_url",
        "saved_payment_method_options",
        "ui_mode",
        "wallet_options",
    }
)
CHECKOUT_CREATE_PARAMS = CHECKOUT_CREATE_SPEC_PARAMS | CHECKOUT_CREATE_DRIFT_PARAMS
LINE_ITEM_PARAMS = frozenset(
    {"adjustable_quantity", "dynamic_tax_rates", "metadata", "price", "price_data", "quantity", "tax_rates"}
)
PRICE_DATA_PARAMS = frozenset(
    {"currency", "product", "product_data", "recurring", "tax_behavior", "unit_amount", "unit_amount_decimal"}
)
REFUND_CREATE_PARAMS = frozenset(
    {
        "amount",
        "charge",
        "currency",
        "customer",
        "expand",
        "instructions_email",
        "metadata",
        "origin",
        "payment_intent",
        "reason",
        "refund_application_fee",
        "reverse_transfer",
    }
)

MAX_LINE_ITEMS = 100
MAX_AMOUNT = 99_999_999  # eight digits (README section 9)
MIN_EXPIRY_SECONDS = 30 * 60
MAX_EXPIRY_SECONDS = 24 * 60 * 60
SUBMIT_TYPES = frozenset({"auto", "book", "donate", "pay", "subscribe"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_CURRENCY = re.compile(r"[a-z]{3}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class LineItemRequest:
    name: str
    description: str | None
    currency: str
    unit_amount: int
    quantity: int


@dataclass(frozen=True)
class CheckoutRequest:
    line_items: list[LineItemRequest]
    currency: str
    expires_at: int
    metadata: dict[str, str] = field(default_factory=dict)
    intent_metadata: dict[str, str] = field(default_factory=dict)
    client_reference_id: str | None = None
    customer_email: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    submit_type: str | None = None
    locale: str | None = None
    submit_message: str | None = None
    allow_promotion_codes: bool | None = None

    @property
    def amount_total(self) -> int:
        return sum(item.unit_amount * item.quantity for item in self.line_items)


@dataclass(frozen=True)
class RefundRequest:
    payment_intent: str | None
    charge: str | None
    amount: int | None
    reason: str | None
    metadata: dict[str, str]


def reject_unknown(params: dict[str, Any], known: frozenset[str], prefix: str = "") -> None:
    for name in params:
        if name not in known:
            raise unknown_parameter(f"{prefix}[{name}]" if prefix else name)


def integer(value: Any, param: str) -> int:
    if not isinstance(value, str | int) or isinstance(value, bool) or not re.fullmatch(r"-?[0-9]+", str(value)):
        raise invalid_integer(param, value)
    return int(value)


def string(value: Any, param: str, *, max_length: int = 5000) -> str:
    if not isinstance(value, str):
        raise invalid(param, f"Invalid string: {value!r}")
    if len(value) > max_length:
        raise invalid(param, f"Invalid string: must be at most {max_length} characters long")
    return value


def optional_string(params: dict[str, Any], name: str, *, max_length: int = 5000) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    return string(value, name, max_length=max_length)


def boolean(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid(param, f"Invalid boolean: {value}", code="parameter_invalid_boolean")


def metadata(value: Any, param: str) -> dict[str, str]:
    """Stripe's limits: 50 keys, keys up to 40 characters without brackets, values up to 500 characters.
    An empty string unsets (``metadata=``), which on create means none."""
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(param, "Invalid object", code="parameter_invalid_object")
    if len(value) > 50:
        raise invalid(param, "You can specify up to 50 keys.", code="parameter_invalid_object")
    result: dict[str, str] = {}
    for key, item in value.items():
        if len(key) > 40 or "[" in key or "]" in key:
            raise invalid(f"{param}[{key}]", "Metadata keys must be at most 40 characters long, without brackets.")
        if not isinstance(item, str):
            raise invalid(f"{param}[{key}]", "Metadata values must be strings.")
        if len(item) > 500:
            raise invalid(f"{param}[{key}]", "Metadata values can have up to 500 characters.")
        if item != "":  # an empty value unsets the key
            result[key] = item
    return result


def _unit_amount(price: dict[str, Any], at: str) -> int:
    """``unit_amount``, or ``unit_amount_decimal`` when it is a whole number of minor units."""
    if "unit_amount" in price:
        return integer(price["unit_amount"], f"{at}[unit_amount]")
    if "unit_amount_decimal" in price:
        value = str(price["unit_amount_decimal"])
        whole, _, fraction = value.partition(".")
        if fraction.strip("0"):
            raise invalid(
                f"{at}[unit_amount_decimal]",
                "The sandbox charges whole minor units only: give a unit_amount_decimal without a fraction.",
                code="parameter_invalid_integer",
            )
        return integer(whole, f"{at}[unit_amount_decimal]")
    raise missing(f"{at}[unit_amount]")


def _line_item(raw: Any, index: int) -> LineItemRequest:
    at = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise invalid(at, "Invalid object", code="parameter_invalid_object")
    reject_unknown(raw, LINE_ITEM_PARAMS, at)
    if "price" in raw:
        raise SandboxError(
            400, f"No such price: '{raw['price']}'", code="resource_missing", param=f"{at}[price]"
        )  # the sandbox keeps no Price objects: use price_data
    if "quantity" not in raw:
        raise missing(f"{at}[quantity]")
    quantity = integer(raw["quantity"], f"{at}[quantity]")
    if quantity < 1:
        raise invalid(f"{at}[quantity]", "Quantity must be greater than 0.", code="parameter_invalid_integer")
    price = raw.get("price_data")
    if price is None:
        raise missing(f"{at}[price_data]")
    if not isinstance(price, dict):
        raise invalid(f"{at}[price_data]", "Invalid object", code="parameter_invalid_object")
    reject_unknown(price, PRICE_DATA_PARAMS, f"{at}[price_data]")
    if "currency" not in price:
        raise missing(f"{at}[price_data][currency]")
    currency = price["currency"]
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise invalid(
            f"{at}[price_data][currency]",
            f"Invalid currency: {currency}. Stripe currently supports these currencies: lowercase ISO codes.",
        )
    unit_amount = _unit_amount(price, f"{at}[price_data]")
    if not 0 <= unit_amount <= MAX_AMOUNT:
        raise invalid(
            f"{at}[price_data][unit_amount]",
            f"Invalid unit_amount: must be between 0 and {MAX_AMOUNT}.",
            code="parameter_invalid_integer",
        )
    product = price.get("product_data")
    if not isinstance(product, dict):
        raise missing(f"{at}[price_data][product_data]")
    if not product.get("name"):
        raise missing(f"{at}[price_data][product_data][name]")
    name = string(product["name"], f"{at}[price_data][product_data][name]")
    description = product.get("description")
    if description is not None:
        description = string(description, f"{at}[price_data][product_data][description]", max_length=40000) or None
    return LineItemRequest(name, description, currency, unit_amount, quantity)


def checkout_request(params: dict[str, Any], now: int) -> CheckoutRequest:
    """The validated ``POST /v1/checkout/sessions`` parameters (``mode=payment`` only)."""
    reject_unknown(params, CHECKOUT_CREATE_PARAMS)
    if "mode" not in params:
        raise missing("mode")
    if params["mode"] != "payment":
        raise invalid("mode", "The sandbox supports Checkout Sessions in `payment` mode only.")
    raw_items = params.get("line_items")
    if not raw_items:
        raise missing("line_items")
    if not isinstance(raw_items, list):
        raise invalid("line_items", "Invalid array", code="parameter_invalid_array")
    if len(raw_items) > MAX_LINE_ITEMS:
        raise invalid("line_items", f"You may only specify up to {MAX_LINE_ITEMS} line items in `payment` mode.")
    items = [_line_item(raw, i) for i, raw in enumerate(raw_items)]
    currency = items[0].currency
    for i, item in enumerate(items):
        if item.currency != currency:
            raise invalid(f"line_items[{i}][price_data][currency]", "All line items must use the same currency.")
    if sum(item.unit_amount * item.quantity for item in items) > MAX_AMOUNT:
        raise SandboxError(
            400, f"The total amount must be at most {MAX_AMOUNT}.", code="amount_too_large", param="line_items"
        )
    expires_at = now + MAX_EXPIRY_SECONDS
    if params.get("expires_at") not in (None, ""):
        expires_at = integer(params["expires_at"], "expires_at")
        if not now + MIN_EXPIRY_SECONDS <= expires_at <= now + MAX_EXPIRY_SECONDS:
            raise invalid(
                "expires_at",
                "The `expires_at` timestamp must be at least 30 minutes and at most 24 hours after the Checkout "
                f"Session is created (now {now}).",
                code="parameter_invalid_integer",
            )
    customer_email = optional_string(params, "customer_email", max_length=800)
    if customer_email is not None and not _EMAIL.fullmatch(customer_email):
        raise invalid("customer_email", f"Invalid email address: {customer_email}", code="email_invalid")
    submit_type = optional_string(params, "submit_type")
    if submit_type is not None and submit_type not in SUBMIT_TYPES:
        raise invalid("submit_type", f"Invalid submit_type: must be one of {', '.join(sorted(SUBMIT_TYPES))}")
    intent_data = params.get("payment_intent_data") or {}
    if not isinstance(intent_data, dict):
        raise invalid("payment_intent_data", "Invalid object", code="parameter_invalid_object")
    custom_text = params.get("custom_text") or {}
    submit = custom_text.get("submit") if isinstance(custom_text, dict) else None
    submit_message = None
    if isinstance(submit, dict) and submit.get("message"):
        submit_message = string(submit["message"], "custom_text[submit][message]", max_length=1200)
    promotion = params.get("allow_promotion_codes")
    return CheckoutRequest(
        line_items=items,
        currency=currency,
        expires_at=expires_at,
        metadata=metadata(params.get("metadata"), "metadata"),
        intent_metadata=metadata(intent_data.get("metadata"), "payment_intent_data[metadata]"),
        client_reference_id=optional_string(params, "client_reference_id", max_length=200),
        customer_email=customer_email,
        success_url=optional_string(params, "success_url"),
        cancel_url=optional_string(params, "cancel_url"),
        submit_type=submit_type,
        locale=optional_string(params, "locale"),
        submit_message=submit_message,
        allow_promotion_codes=None if promotion in (None, "") else boolean(promotion, "allow_promotion_codes"),
    )


def refund_request(params: dict[str, Any]) -> RefundRequest:
    reject_unknown(params, REFUND_CREATE_PARAMS)
    payment_intent = optional_string(params, "payment_intent")
    charge = optional_string(params, "charge")
    if payment_intent is None and charge is None:
        raise SandboxError(
            400,
            "One of the following params should be provided for this request: payment_intent or charge.",
            code="parameter_missing",
        )
    amount = None
    if params.get("amount") not in (None, ""):
        amount = integer(params["amount"], "amount")
        if amount < 1:
            raise SandboxError(400, "Invalid positive integer", code="parameter_invalid_integer", param="amount")
    reason = optional_string(params, "reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid("reason", f"Invalid reason: must be one of {', '.join(sorted(REFUND_REASONS))}")
    return RefundRequest(payment_intent, charge, amount, reason, metadata(params.get("metadata"), "metadata"))
