"""The webhook endpoints API: an organizer's own endpoints only (another organizer's answer 404 and change nothing),
the secret shown once, every field checked with a code, the cap per organizer, disabling and enabling, the delivery
log filtered and paged, deletion taking the log with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from boxoffice.accounts.service import create_api_key
from boxoffice.integrations import catalog
from boxoffice.integrations.endpoints import MAX_ENDPOINTS
from boxoffice.ticketing.reserve import reserve
from tests.helpers import eventually, make_event, make_ticket, order_request, unique_email
from tests.integrations.conftest import Hooks
from tests.integrations.receiver import Receiver

BASE = "/api/v1/webhook-endpoints"


async def test_endpoints_are_the_organizers_own(hooks: Hooks) -> None:
    client = hooks.srv.client
    created = await hooks.register(
        "https://hooks.example.com/in", ["order.created", "order.created"], description="CRM"
    )
    assert created["event_types"] == ["order.created"] and created["description"] == "CRM"
    assert created["disabled_reason"] is None and created["previous_secret_expires_at"] is None
    path = f"{BASE}/{created['id']}"

    listed = (await client.get(BASE, headers=hooks.auth)).json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]

    _, other_key = await create_api_key(hooks.srv.box.db, unique_email("org-other"))
    other = {"Authorization": f"Bearer {other_key}"}
    assert (await client.get(BASE, headers=other)).json() == []
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"enabled": False}),
        ("DELETE", path, None),
        ("POST", f"{path}/roll-secret", None),
        ("GET", f"{path}/deliveries", None),
        ("GET", f"{path}/deliveries/whd_unknown", None),
        ("POST", f"{path}/deliveries/whd_unknown/redeliver", None),
    ]:
        r = await client.request(method, url, json=body, headers=other)
        assert r.status_code == 404, (method, url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    unchanged = {k: v for k, v in created.items() if k != "secret"}
    assert (await client.get(path, headers=hooks.auth)).json() == unchanged  # the other organizer changed nothing
    assert (await client.get(BASE)).status_code == 401

    r = await client.patch(
        path, json={"url": "https://other.example.com/x", "event_types": ["*"], "description": None}, headers=hooks.auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["url"] == "https://other.example.com/x" and r.json()["event_types"] == ["*"]
    assert r.json()["description"] == "CRM"  # null leaves it as it was

    assert (await client.delete(path, headers=hooks.auth)).status_code == 204
    assert (await client.get(path, headers=hooks.auth)).status_code == 404


async def test_every_field_is_checked_with_a_code(hooks: Hooks) -> None:
    client = hooks.srv.client
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"event_types": ["*"]}, "url", "required"),
        ({"url": "https://hooks.example.com"}, "event_types", "required"),
        ({"url": "https://hooks.example.com", "event_types": []}, "event_types", "required"),
        ({"url": "https://hooks.example.com", "event_types": ["order.paid"]}, "event_types[0]", "invalid_choice"),
        ({"url": "hooks.example.com", "event_types": ["*"]}, "url", "invalid_format"),
        ({"url": "https://hooks.example.com", "event_types": ["*"], "enabled": "yes"}, "enabled", "invalid_type"),
        ({"url": "https://hooks.example.com", "event_types": ["*"], "secret": "mine"}, "secret", "unknown_field"),
        ({"url": "https://h.example.com", "event_types": ["*"], "description": "x" * 501}, "description", "too_long"),
        ({"url": "https://example.com/" + "a" * 2048, "event_types": ["*"]}, "url", "too_long"),
    ]
    for body, field, code in cases:
        r = await client.post(BASE, json=body, headers=hooks.auth)
        assert r.status_code == 422, (body, r.text)
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [(field, code)], body
    assert (await client.get(BASE, headers=hooks.auth)).json() == []  # bad input changes nothing

    created = await hooks.register("https://hooks.example.com/in")
    r = await client.post(f"{BASE}/{created['id']}/roll-secret", json={"previous_secret_hours": 25}, headers=hooks.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "above_maximum"
    r = await client.patch(f"{BASE}/{created['id']}", json={"url": "http://10.1.1.1/"}, headers=hooks.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "forbidden_address"
    assert (await client.get(f"{BASE}/{created['id']}", headers=hooks.auth)).json()["url"] == created["url"]


async def test_an_organizer_has_a_bounded_number_of_endpoints(hooks: Hooks) -> None:
    for i in range(MAX_ENDPOINTS):
        await hooks.register(f"https://hooks.example.com/{i}", ["order.created"])
    r = await hooks.srv.client.post(
        BASE, json={"url": "https://hooks.example.com/one-more", "event_types": ["*"]}, headers=hooks.auth
    )
    assert r.status_code == 409, r.text
    assert len((await hooks.srv.client.get(BASE, headers=hooks.auth)).json()) == MAX_ENDPOINTS


async def test_the_delivery_log_is_filtered_paged_and_goes_with_its_endpoint(hooks: Hooks, receiver: Receiver) -> None:
    db = hooks.srv.box.db
    receiver.script = [500]  # the first attempt fails, its retry succeeds
    endpoint = await hooks.register(receiver.url, ["order.created"])
    event = await make_event(db, organizer=hooks.organizer_email)
    tt = await make_ticket(db, event.id)
    for _ in range(3):
        await reserve(db, order_request(event.id, (tt.id, 1)))

    async def all_delivered() -> list[dict[str, Any]] | None:
        log = await hooks.deliveries(endpoint["id"])
        return log if len(log) == 3 and all(d["status"] == "delivered" for d in log) else None

    log = await eventually(all_delivered)
    assert sorted(d["attempts"] for d in log) == [1, 1, 2]
    retried = next(d for d in log if d["attempts"] == 2)
    assert retried["last_status_code"] == 200 and retried["last_error"] is None
    detail = (
        await hooks.srv.client.get(f"{BASE}/{endpoint['id']}/deliveries/{retried['id']}", headers=hooks.auth)
    ).json()
    assert [a["status_code"] for a in detail["attempts_log"]] == [500, 200]

    assert await hooks.deliveries(endpoint["id"], status="failed") == []
    page = await hooks.deliveries(endpoint["id"], limit=2, offset=1)
    assert [d["id"] for d in page] == [d["id"] for d in log[1:3]]
    assert [d["created_at"] for d in log] == sorted((d["created_at"] for d in log), reverse=True)
    r = await hooks.srv.client.get(f"{BASE}/{endpoint['id']}/deliveries?status=lost", headers=hooks.auth)
    assert r.status_code == 422

    assert (await hooks.srv.client.delete(f"{BASE}/{endpoint['id']}", headers=hooks.auth)).status_code == 204
    r = await hooks.srv.client.get(f"{BASE}/{endpoint['id']}/deliveries/{retried['id']}", headers=hooks.auth)
    assert r.status_code == 404


async def test_the_openapi_document_states_the_rules_and_links(hooks: Hooks) -> None:
    spec = (await hooks.srv.client.get("/openapi.json")).json()
    create = spec["paths"][BASE]["post"]
    links = create["responses"]["201"]["links"]
    assert {"GetWebhookEndpoint", "ChangeWebhookEndpoint", "RollWebhookSecret", "ListDeliveries"} <= set(links)
    assert links["ListDeliveries"]["parameters"] == {"path.endpoint_id": "$response.body#/id"}
    schemas = spec["components"]["schemas"]
    url = schemas["EndpointCreate"]["properties"]["url"]
    assert url["maxLength"] == 2048 and url["pattern"].startswith("^[Hh][Tt][Tt][Pp]")
    types = schemas["EndpointCreate"]["properties"]["event_types"]["items"]["enum"]
    assert types == [*catalog.EVENT_TYPES, "*"]
    deliveries = spec["paths"][f"{BASE}/{{endpoint_id}}/deliveries"]["get"]["responses"]["200"]["links"]
    assert deliveries["Redeliver"]["parameters"]["path.delivery_id"] == "$response.body#/0/id"


async def test_the_settings_reach_the_sender(hooks: Hooks) -> None:
    """The running Boxoffice retries for ``BOXOFFICE_WEBHOOK_RETRY_HOURS`` (72 by default) and disables an endpoint
    after ``BOXOFFICE_WEBHOOK_DISABLE_AFTER_HOURS`` (24), with the per-attempt timeout and answer cap it was given."""
    box = hooks.srv.box
    settings, config = box.settings, box.webhook_sender.config
    assert box.webhook_retry_for == timedelta(hours=72) == timedelta(hours=settings.webhook_retry_hours)
    assert config.disable_after == timedelta(hours=24) == timedelta(hours=settings.webhook_disable_after_hours)
    assert config.timeout == settings.webhook_timeout_seconds and config.max_response_bytes == 16384
    assert box.delivery_queue.retry_for == box.webhook_retry_for
