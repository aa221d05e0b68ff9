"""Currencies, minor units and Stripe's charge limits. Pure: no I/O.

Amounts are integers in the currency's minor unit and currency codes are lowercase, as Stripe does
(``shared/stripe/README.md`` section 9).
"""

from __future__ import annotations

from dataclasses import dataclass

# Stripe's zero-decimal currencies: the amount is in whole units.
ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)

# Minimum charge in minor units, from Stripe's published table (USD 0.50, JPY 50, ...).
_MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
    # Not in Stripe's table: a KRW charge must be worth at least USD 0.50 after conversion; 700 KRW
    # is our conservative stand-in (see README, "Money").
    "krw": 700,
}

# Stripe accepts at most eight digits for an amount (99999999 minor units).
MAXIMUM_AMOUNT = 99_999_999

SUPPORTED_CURRENCIES = frozenset(_MINIMUM_CHARGE)

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "inr": "₹"}


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int
    minimum_charge: int

    @property
    def maximum_amount(self) -> int:
        return MAXIMUM_AMOUNT


def normalize_currency(code: str) -> str:
    return code.strip().lower()


def is_supported(code: str) -> bool:
    return normalize_currency(code) in SUPPORTED_CURRENCIES


def currency(code: str) -> Currency:
    norm = normalize_currency(code)
    if norm not in SUPPORTED_CURRENCIES:
        raise ValueError(f"unsupported currency {code!r}")
    return Currency(norm, 0 if norm in ZERO_DECIMAL else 2, _MINIMUM_CHARGE[norm])


def exponent(code: str) -> int:
    return 0 if normalize_currency(code) in ZERO_DECIMAL else 2


def format_money(amount: int, code: str) -> str:
    """Human form for pages: ``$15.00``, ``¥1,500``, ``12.50 CHF``."""
    norm = normalize_currency(code)
    exp = exponent(norm)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    number = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
    symbol = _SYMBOLS.get(norm)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {norm.upper()}"
