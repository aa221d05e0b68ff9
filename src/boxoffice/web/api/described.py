"""What the fields of the API's bodies mean: ``about`` gives a field its description and example (every field of
every request and response body has both; tests/web/test_openapi_docs.py holds them to that), and the words that
request and response bodies share."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def about(description: str, example: object, **field: Any) -> Any:
    """A field's description and example, as the OpenAPI document shows them (every field has both)."""
    return Field(description=description, examples=[example], **field)


# What the event fields mean, for the event's request and response bodies alike.
EVENT_TITLE = "The event's name, as buyers see it."
EVENT_DESCRIPTION = "What buyers read about the event; a blank line starts a new paragraph on its page."
EVENT_WHEN = (
    "An RFC 3339 date-time with its offset (`2027-06-12T19:00:00+02:00`, `2027-06-12T17:00:00Z`), or a wall-clock "
    "time without one (`2027-06-12T19:00:00`), read in the event's `timezone`: the one this request gives, else "
    "(on a change) the stored one; a new event given a wall-clock time needs `timezone` in the same request. A "
    "wall-clock time the clocks skip there (daylight saving time starts) or that happens twice (it ends) is refused "
    "with 422 (`nonexistent_time`, `ambiguous_time`). Stored and answered in UTC."
)
EVENT_STARTS = "When the event starts. " + EVENT_WHEN
EVENT_ENDS = "When the event ends, after `starts_at` (a rule between two fields, answered with 422). " + EVENT_WHEN
EVENT_TIMEZONE = (
    "The event's IANA time zone: its page, emails and calendar file show its times in it, and wall-clock "
    "`starts_at`/`ends_at` are read in it. A new event without one is in UTC. Changing it keeps the stored instants."
)
EVENT_STATUS = (
    "`draft`: only its organizer sees it (to buyers, its page and public endpoints answer 404 as for an unknown "
    "id); `published`: on sale; `sales_paused`: its page and tickets are visible but nothing can be reserved (409 "
    "`sales-paused`, words on the page) until it is published again; `canceled`: its page says so and nothing is "
    "sold. A new event without a status is `published`."
)
VENUE_NAME = (
    "Where the event takes place: the venue's name (one line). Shown on the event and order pages, in the "
    "confirmation email and as `LOCATION` in its calendar file. Empty: not said."
)
VENUE_ADDRESS = "The venue's address as buyers should read it; line breaks are kept. Empty: not said."
IMAGE_URL = "An https URL of an image shown at the top of the event's page (buyers' browsers load it from there)."
TICKET_TITLE = "The ticket type's name, as buyers see it."
PRICING_MODEL = (
    "How the price is set. `fixed`: one price, `base_price_cents`. `flexible` (pay what you want): the buyer "
    "chooses, at least `minimum_price_cents`, with `suggested_price_cents` filled in for them. `dynamic`: the price "
    "climbs in `price_tiers` as tickets sell or dates pass."
)
TIERS = (
    "`dynamic` only: the price steps, in order. Each holds until its `up_to` (tickets sold or held in all) or its "
    "`until` (a moment), whichever comes first; the last has neither."
)
TIERS_EXAMPLE = [
    {"price_cents": 1500, "up_to": 50},
    {"price_cents": 2000, "up_to": 150, "until": "2027-05-01T00:00:00Z"},
    {"price_cents": 2500},
]

HOLD_MINUTES = (
    "How long an order of this event holds its tickets while the buyer pays: 5 to 30 minutes (default: the "
    "server's `BOXOFFICE_HOLD_MINUTES`). Below Stripe's 30-minute Checkout minimum, Boxoffice expires the Checkout "
    "Session itself when the hold ends."
)
OFFER_MINUTES = "How long a waiting-list offer holds its tickets for the person offered them: 10 minutes to 7 days."
