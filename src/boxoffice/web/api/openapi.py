"""What the OpenAPI document says beyond the routes' own declarations: how the operations link to each other (what
a created event, ticket type, question, order or webhook endpoint lets a client call next, so that a tester can
follow them), the body limit of every request body, the configured caps of an order, and the nulls of the examples.
Operations are named by path and method, so this does not depend on where a route lives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from boxoffice.web.api.fields import BODY_LIMIT, NO_NUL_PATTERN

API = "/api/v1"
EVENT = f"{API}/events/{{event_id}}"
ORDER = f"{API}/orders/{{order_id}}"
TICKET = f"{API}/tickets/{{ticket_id}}"

# (name, method, path, parameters, request body) of the operations one event id opens
_BY_EVENT: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GetEvent", "get", EVENT, {}, None),
    ("ChangeEvent", "patch", EVENT, {}, None),
    ("PublishEvent", "patch", EVENT, {}, {"status": "published"}),
    ("AddTicketType", "post", f"{EVENT}/tickets", {}, None),
    ("TicketTypesOnSale", "get", f"{EVENT}/tickets", {}, None),
    ("PlaceOrder", "post", f"{EVENT}/orders", {}, None),
    ("ListOrders", "get", f"{EVENT}/orders", {}, None),
    ("ListParticipants", "get", f"{EVENT}/participants", {}, None),
    ("ListEmails", "get", f"{EVENT}/emails", {}, None),
    ("Availability", "get", f"{EVENT}/stream", {}, None),
    ("AddCheckinList", "post", f"{EVENT}/checkin-lists", {}, None),
    ("ListCheckinLists", "get", f"{EVENT}/checkin-lists", {}, None),
    ("AddDoorDevice", "post", f"{EVENT}/devices", {}, None),
    ("ListDoorDevices", "get", f"{EVENT}/devices", {}, None),
    ("AddQuestion", "post", f"{EVENT}/questions", {}, None),
    ("EventQuestions", "get", f"{EVENT}/questions", {}, None),
    ("AttendeeSettings", "get", f"{EVENT}/attendee-settings", {}, None),
    ("ChangeAttendeeSettings", "patch", f"{EVENT}/attendee-settings", {}, None),
]
_BY_ORDER: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GetOrder", "get", ORDER, {"query.token": "$response.body#/token"}, None),
    ("CancelOrder", "post", f"{ORDER}/cancel", {"query.token": "$response.body#/token"}, None),
    ("ResumeCheckout", "post", f"{ORDER}/checkout", {"query.token": "$response.body#/token"}, None),
    ("OrderStatus", "get", f"{ORDER}/stream", {"query.token": "$response.body#/token"}, None),
    ("RefundOrder", "post", f"{ORDER}/refunds", {}, None),
]
CHECKIN_LIST = f"{API}/checkin-lists/{{list_id}}"
_BY_CHECKIN_LIST: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GetCheckinList", "get", CHECKIN_LIST, {}, None),
    ("ChangeCheckinList", "patch", CHECKIN_LIST, {}, None),
    ("DeleteCheckinList", "delete", CHECKIN_LIST, {}, None),
    ("ScanAtList", "post", f"{CHECKIN_LIST}/scans", {}, None),
    ("CheckinStatus", "get", f"{CHECKIN_LIST}/status", {}, None),
    ("FindAttendees", "get", f"{CHECKIN_LIST}/attendees", {}, None),
    ("CheckinRecords", "get", f"{CHECKIN_LIST}/checkins", {}, None),
    ("OfflineCopy", "get", f"{CHECKIN_LIST}/offline", {}, None),
]
_BY_TICKET: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GetTicketType", "get", TICKET, {}, None),
    ("ChangeTicketType", "patch", TICKET, {}, None),
    ("DeleteTicketType", "delete", TICKET, {}, None),
]
QUESTION = f"{API}/questions/{{question_id}}"
_BY_QUESTION: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GetQuestion", "get", QUESTION, {}, None),
    ("ChangeQuestion", "patch", QUESTION, {}, None),
    ("DeleteQuestion", "delete", QUESTION, {}, None),
]

HOOK = f"{API}/webhook-endpoints/{{endpoint_id}}"
_BY_ENDPOINT: list[tuple[str, str, str, dict[str, str], Any]] = [
    ("GetWebhookEndpoint", "get", HOOK, {}, None),
    ("ChangeWebhookEndpoint", "patch", HOOK, {}, None),
    ("DeleteWebhookEndpoint", "delete", HOOK, {}, None),
    ("RollWebhookSecret", "post", f"{HOOK}/roll-secret", {}, None),
    ("ListDeliveries", "get", f"{HOOK}/deliveries", {}, None),
]


def _endpoint_links(pointer: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    return [(n, m, p, {"path.endpoint_id": pointer}, body) for n, m, p, _, body in _BY_ENDPOINT]


def _event_links(pointer: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    return [(n, m, p, {"path.event_id": pointer, **extra}, body) for n, m, p, extra, body in _BY_EVENT]


def _order_links(pointer: str, with_token: bool) -> list[tuple[str, str, str, dict[str, str], Any]]:
    return [
        (n, m, p, {"path.order_id": pointer, **(extra if with_token else {})}, body)
        for n, m, p, extra, body in _BY_ORDER
        if with_token or not extra  # a listed order carries no token: its buyer's operations need one
    ]


def _checkin_list_links(pointer: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    return [(n, m, p, {"path.list_id": pointer}, body) for n, m, p, _, body in _BY_CHECKIN_LIST]


def _question_links(pointer: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    return [(n, m, p, {"path.question_id": pointer}, body) for n, m, p, _, body in _BY_QUESTION]


def _ticket_links(pointer: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    return [(n, m, p, {"path.ticket_id": pointer}, body) for n, m, p, _, body in _BY_TICKET]


# (method, path, status) of a response -> the links it carries
LINKS: dict[tuple[str, str, str], list[tuple[str, str, str, dict[str, str], Any]]] = {
    ("post", f"{API}/events", "201"): _event_links("$response.body#/id"),
    ("patch", EVENT, "200"): _event_links("$response.body#/id"),
    ("post", f"{EVENT}/tickets", "201"): [
        *_ticket_links("$response.body#/id"),
        (
            "OrderThisTicketType",
            "post",
            f"{EVENT}/orders",
            {"path.event_id": "$response.body#/event_id"},
            {"email": "buyer@example.com", "lines": [{"ticket_id": "$response.body#/id", "quantity": 1}]},
        ),
    ],
    ("get", f"{EVENT}/tickets", "200"): _ticket_links("$response.body#/0/id"),
    ("post", f"{EVENT}/orders", "201"): _order_links("$response.body#/id", with_token=True),
    ("get", f"{EVENT}/orders", "200"): _order_links("$response.body#/0/id", with_token=False),
    ("post", f"{EVENT}/questions", "201"): _question_links("$response.body#/id"),
    ("get", f"{EVENT}/questions", "200"): _question_links("$response.body#/questions/0/id"),
    ("post", f"{API}/api-keys", "201"): [
        ("RevokeThisKey", "delete", f"{API}/api-keys/{{key_id}}", {"path.key_id": "$response.body#/id"}, None)
    ],
    ("post", f"{API}/webhook-endpoints", "201"): _endpoint_links("$response.body#/id"),
    ("get", f"{API}/webhook-endpoints", "200"): _endpoint_links("$response.body#/0/id"),
    ("get", f"{HOOK}/deliveries", "200"): [
        (
            name,
            method,
            path,
            {"path.endpoint_id": "$request.path.endpoint_id", "path.delivery_id": "$response.body#/0/id"},
            None,
        )
        for name, method, path in (
            ("GetDelivery", "get", f"{HOOK}/deliveries/{{delivery_id}}"),
            ("Redeliver", "post", f"{HOOK}/deliveries/{{delivery_id}}/redeliver"),
        )
    ],
    ("post", f"{EVENT}/checkin-lists", "201"): _checkin_list_links("$response.body#/id"),
    ("get", f"{EVENT}/checkin-lists", "200"): _checkin_list_links("$response.body#/0/id"),
    ("post", f"{EVENT}/devices", "201"): [
        ("RevokeDoorDevice", "delete", f"{API}/devices/{{device_id}}", {"path.device_id": "$response.body#/id"}, None)
    ],
    ("post", f"{CHECKIN_LIST}/scans", "201"): [
        (
            "UndoCheckin",
            "delete",
            f"{API}/checkins/{{checkin_id}}",
            {"path.checkin_id": "$response.body#/checkin_id"},
            None,
        )
    ],
}


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """Adds the links (by operationId, to the operations the document has) and the body limit, in place."""
    paths: dict[str, dict[str, Any]] = document.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        out = response.setdefault("links", {})
        for name, to_method, to_path, parameters, body in links:
            target = paths.get(to_path, {}).get(to_method)
            if target is None or "operationId" not in target:
                continue
            link: dict[str, Any] = {"operationId": target["operationId"], "parameters": dict(parameters)}
            if body is not None:
                link["requestBody"] = body
            out[name] = link
    for operations in paths.values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            if "requestBody" in operation:
                operation["requestBody"].setdefault("description", BODY_LIMIT)
            for parameter in operation.get("parameters", []):
                _no_nul(parameter.get("schema", {}))
    return document


def _no_nul(schema: dict[str, Any]) -> None:
    """A string parameter holds no U+0000 (web/nul.py refuses it)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string" and "pattern" not in branch and "enum" not in branch:
            branch["pattern"] = NO_NUL_PATTERN


def add_order_limits(document: dict[str, Any], max_lines: int, max_quantity: int) -> dict[str, Any]:
    """The configured caps of an order (``BOXOFFICE_MAX_LINES_PER_ORDER``, ``BOXOFFICE_MAX_QUANTITY_PER_LINE``), in
    place of the hard ceilings the request models carry."""
    schemas = document.get("components", {}).get("schemas", {})
    if "OrderCreate" in schemas:
        schemas["OrderCreate"]["properties"]["lines"]["maxItems"] = max_lines
    if "LineIn" in schemas:
        quantity = schemas["LineIn"]["properties"]["quantity"]
        quantity["maximum"] = max_quantity
        quantity["description"] = (
            f"At most {max_quantity}, and at most {max_quantity} in all for the lines of one ticket type (a rule "
            "between lines, answered with 422)."
        )
        attendees = schemas["LineIn"]["properties"].get("attendees", {})
        for branch in attendees.get("anyOf", [attendees]):
            if branch.get("type") == "array":  # at most one per ticket, so never more than a line's quantity
                branch["maxItems"] = max_quantity
    return document


def _body_models() -> dict[str, type[BaseModel]]:
    """The API's body models by name (a component is named after its model), those whose name is unique."""
    found: dict[str, list[type[BaseModel]]] = {}
    stack = list(BaseModel.__subclasses__())
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        if model.__module__.startswith("boxoffice.web.api."):
            found.setdefault(model.__name__, []).append(model)
    return {name: models[0] for name, models in found.items() if len(set(models)) == 1}


def restore_examples(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI writes the document without its nulls (``exclude_none``), the nulls inside examples too: an example
    object would lose its null fields and break its own schema (a required field missing). This writes the
    examples of the body models' fields and of the models themselves back as the models give them, in place."""
    models = _body_models()
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        model = models.get(name.removesuffix("-Input").removesuffix("-Output"))
        if model is None:
            continue
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and "examples" in extra and "examples" in schema:
            schema["examples"] = to_jsonable_python(extra["examples"])
        properties: dict[str, Any] = schema.get("properties", {})
        for field_name, field in model.model_fields.items():
            prop = properties.get(field.alias or field_name)
            if prop is not None and field.examples is not None:
                prop["examples"] = to_jsonable_python(field.examples)
    return document


def install(app: FastAPI) -> None:
    build: Callable[[], dict[str, Any]] = app.openapi
    settings = app.state.box.settings

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI keeps the document it built: this completes it once
            document = restore_examples(add_links(build()))
            add_order_limits(document, settings.max_lines_per_order, settings.max_quantity_per_line)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
