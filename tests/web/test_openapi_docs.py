"""The OpenAPI document is the API's manual: every property of every request and response body has a description
and an example, each example is valid for its own schema, and the ticket type's three pricing models are shown as
whole request bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs

from tests.server import LiveServer


def properties(name: str, schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property a body declares, nested inline objects and array items included. The ``allOf`` rules between
    fields (``if``/``then``) declare no property: they are left out."""
    for prop, sub in schema.get("properties", {}).items():
        where = f"{name}{path}.{prop}"
        yield where, sub
        for branch in [sub, *sub.get("anyOf", []), sub.get("items", {})]:
            if isinstance(branch, dict) and "properties" in branch:
                yield from properties(name, branch, f"{path}.{prop}")


async def test_every_property_of_every_body_has_a_description_and_an_example(site: LiveServer) -> None:
    document = (await site.client.get("/openapi.json")).json()
    schemas: dict[str, dict[str, Any]] = document["components"]["schemas"]
    missing: list[str] = []
    wrong: list[str] = []
    seen = 0
    for name, schema in schemas.items():
        for where, prop in properties(name, schema):
            seen += 1
            examples = prop.get("examples", [prop["example"]] if "example" in prop else [])
            if not str(prop.get("description", "")).strip():
                missing.append(f"{where}: no description")
            if not examples:
                missing.append(f"{where}: no example")
            check = jsonschema_rs.validator_for({**{k: v for k, v in prop.items() if k != "examples"}, **document})
            wrong += [f"{where}: {example!r}" for example in examples if not check.is_valid(example)]
    assert seen > 150  # the walk reached the bodies
    assert missing == [], "\n".join(missing)
    assert wrong == [], "\n".join(wrong)


async def test_the_pricing_models_are_shown_as_whole_request_bodies(site: LiveServer) -> None:
    document = (await site.client.get("/openapi.json")).json()
    create = document["paths"]["/api/v1/events/{event_id}/tickets"]["post"]["requestBody"]["content"]
    shown = create["application/json"]["examples"]
    assert set(shown) == {"fixed", "flexible", "dynamic"}
    check = jsonschema_rs.validator_for({"$ref": "#/components/schemas/TicketCreate", **document})
    for example in shown.values():
        assert check.is_valid(example["value"]), example
        assert example["summary"] and example["description"]
    assert shown["flexible"]["value"]["minimum_price_cents"] <= shown["flexible"]["value"]["suggested_price_cents"]
    assert len(shown["dynamic"]["value"]["price_tiers"]) == 3
    # the field descriptions say what each model needs
    fields = document["components"]["schemas"]["TicketFields"]["properties"]
    for needed in ("base_price_cents", "minimum_price_cents", "suggested_price_cents", "price_tiers"):
        assert needed in fields["pricing_model"]["description"]


async def test_examples_keep_their_nulls(site: LiveServer) -> None:
    """FastAPI leaves the nulls out of the document it writes, the ones inside examples too; Boxoffice puts them back
    (an example object without its null fields would miss required ones)."""
    document = (await site.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["ApiKeyCreated"]["examples"][0]["last_used_at"] is None
    first_attempt = schemas["DeliveryDetailOut"]["properties"]["attempts_log"]["examples"][0][0]
    assert first_attempt["status_code"] is None and first_attempt["error"]
    pending = schemas["OrderCreated"]["properties"]["attendees"]["examples"][0][0]
    assert "ticket_id" in pending


async def test_the_voucher_kinds_are_shown_as_whole_request_bodies(site: LiveServer) -> None:
    """A discount code, generated codes and an access code with tickets set aside, each valid for its schema."""
    document = (await site.client.get("/openapi.json")).json()
    create = document["paths"]["/api/v1/events/{event_id}/vouchers"]["post"]
    shown = create["requestBody"]["content"]["application/json"]["examples"]
    assert set(shown) == {"discount", "generated", "access"}
    check = jsonschema_rs.validator_for({"$ref": "#/components/schemas/VoucherCreate", **document})
    for example in shown.values():
        assert check.is_valid(example["value"]), example
        assert example["summary"] and example["description"]
    for path in ("/api/v1/events/{event_id}/vouchers", "/api/v1/vouchers/{voucher_id}"):
        for operation in document["paths"][path].values():
            assert operation["summary"] and operation["description"].strip(), (path, operation["summary"])
