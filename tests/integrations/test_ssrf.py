"""No webhook reaches a private, loopback, link-local or otherwise non-public address: refused at registration when
the URL names an address, and at delivery after the name is resolved (IPv4 and IPv6, a name with one bad address
among good ones), on the address that was checked; redirects are not followed."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.integrations.addresses import UrlPolicy
from tests.integrations.conftest import Hooks, Org
from tests.integrations.receiver import Receiver
from tests.integrations.support import add_endpoint, attempts_of, deliveries_of, fan_out, make_sender

STRICT = UrlPolicy(https_only=False, allow_loopback=False)


def resolver(table: dict[str, list[str]]) -> Any:
    """A resolver that knows only ``table`` (the system's is never asked)."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return table[host]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


async def one_attempt(org: Org, url: str, *, resolve: Any, policy: UrlPolicy = STRICT) -> tuple[Any, Any]:
    """Queue one event for an endpoint at ``url``, run one round of a sender, return its delivery and attempt."""
    created = await add_endpoint(org.db, org.organizer_id, url)
    await fan_out(org.db, "order.created", {"order_id": "ord_ssrf", "event_id": org.event_id, "status": "pending"})
    sender = make_sender(org.db, resolve=resolve, policy=policy)
    try:
        assert await sender.deliver_due() >= 1
    finally:
        await sender.stop()
    (delivery,) = await deliveries_of(org.db, created.endpoint.id)
    (attempt,) = await attempts_of(org.db, delivery.id)
    return delivery, attempt


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.7"], "private address"),
        (["192.168.1.20"], "private address"),
        (["172.16.5.4"], "private address"),
        (["169.254.169.254"], "link-local address"),  # the cloud metadata service
        (["100.64.0.1"], "non-global address"),  # carrier-grade NAT
        (["0.0.0.0"], "unspecified address"),
        (["224.0.0.1"], "multicast address"),
        (["240.0.0.1"], "private address"),  # reserved (Python counts 240/4 as private too)
        (["fd00::1"], "private address"),
        (["fe80::1"], "link-local address"),
        (["::ffff:10.1.2.3"], "private address"),  # IPv4-mapped
        (["64:ff9b::a00:1"], "private address"),  # NAT64 of 10.0.0.1
        (["93.184.215.14", "10.0.0.1"], "private address"),  # one bad address among good ones
    ],
)
async def test_a_name_resolving_to_a_forbidden_address_is_refused(org: Org, addresses: list[str], reason: str) -> None:
    resolve = resolver({"hooks.example.test": addresses})
    delivery, attempt = await one_attempt(org, "http://hooks.example.test/in", resolve=resolve)
    assert resolve.asked == ["hooks.example.test"]
    assert attempt.status_code is None and attempt.error is not None
    assert attempt.error.startswith("refused:") and reason in attempt.error
    assert delivery.status == "pending" and delivery.last_error == attempt.error  # retried later: DNS may change


async def test_a_name_resolving_to_loopback_sends_nothing_there(org: Org, receiver: Receiver) -> None:
    resolve = resolver({"innocent.example.test": ["127.0.0.1"]})
    _, attempt = await one_attempt(org, f"http://innocent.example.test:{receiver.port}/hooks", resolve=resolve)
    assert "loopback address" in (attempt.error or "")
    assert receiver.hits == []  # refused before any connection


async def test_the_connection_goes_to_the_address_that_was_checked(org: Org, receiver: Receiver) -> None:
    """The name exists only in the test's resolver: the request arrives, so it went to the address checked, with
    the URL's host in Host (connecting by the name again would have failed to resolve)."""
    resolve = resolver({"receiver.invalid": ["127.0.0.1"]})
    delivery, attempt = await one_attempt(
        org, f"http://receiver.invalid:{receiver.port}/hooks", resolve=resolve, policy=UrlPolicy(False, True)
    )
    assert attempt.status_code == 200 and delivery.status == "delivered"
    (hit,) = receiver.hits
    assert hit.headers["Host"] == f"receiver.invalid:{receiver.port}"


async def test_an_address_allowed_at_registration_is_checked_again_at_delivery(org: Org, receiver: Receiver) -> None:
    _, attempt = await one_attempt(org, receiver.url, resolve=resolver({}))  # a loopback URL, now strict
    assert "loopback address" in (attempt.error or "") and receiver.hits == []


async def test_a_redirect_is_not_followed(org: Org, receiver: Receiver) -> None:
    inside = await Receiver().start()  # where the redirect points: an internal service
    try:
        receiver.status = 302
        receiver.headers = {"Location": inside.url}
        delivery, attempt = await one_attempt(org, receiver.url, resolve=resolver({}), policy=UrlPolicy(False, True))
        assert attempt.status_code == 302 and attempt.error is None
        assert delivery.status == "pending" and delivery.last_status_code == 302  # a failed attempt, retried
        assert len(receiver.hits) == 1 and inside.hits == []
    finally:
        await inside.stop()


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://10.0.0.1/hooks", "forbidden_address"),
        ("http://127.0.0.1:8000/hooks", "forbidden_address"),
        ("http://localhost/hooks", "forbidden_address"),
        ("http://api.localhost/hooks", "forbidden_address"),
        ("http://169.254.169.254/latest/meta-data", "forbidden_address"),
        ("http://[::1]/hooks", "forbidden_address"),
        ("http://[fe80::1]/hooks", "forbidden_address"),
        ("http://[fd12:3456::1]/hooks", "forbidden_address"),
        ("http://[::ffff:192.168.0.1]/hooks", "forbidden_address"),
        ("http://0.0.0.0/hooks", "forbidden_address"),
        ("ftp://example.com/hooks", "invalid_format"),
        ("https://user:pass@example.com/hooks", "invalid_format"),
        ("https://example.com/hooks#frag", "invalid_format"),
        ("https://example.com:99999/hooks", "invalid_format"),
        ("https://[::1/hooks", "invalid_format"),
    ],
)
async def test_registration_refuses_urls_to_forbidden_addresses(strict_hooks: Hooks, url: str, code: str) -> None:
    r = await strict_hooks.srv.client.post(
        "/api/v1/webhook-endpoints", json={"url": url, "event_types": ["*"]}, headers=strict_hooks.auth
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "url" and error["code"] == code


async def test_a_refusing_server_still_accepts_public_urls(strict_hooks: Hooks) -> None:
    for url in ("http://93.184.215.14/hooks", "https://hooks.example.com/in", "http://[2001:4860:4860::8888]/in"):
        created = await strict_hooks.register(url, ["order.created"])
        assert created["url"] == url
        r = await strict_hooks.srv.client.delete(
            f"/api/v1/webhook-endpoints/{created['id']}", headers=strict_hooks.auth
        )
        assert r.status_code == 204


async def test_the_systems_resolver_is_checked_too(org: Org, receiver: Receiver) -> None:
    """A loopback address spelled as a number: not an address to the URL rules, a name to resolve, and the system's
    resolver turns it into 127.0.0.1, which the check refuses."""
    created = await add_endpoint(org.db, org.organizer_id, f"http://2130706433:{receiver.port}/hooks")
    await fan_out(org.db, "order.created", {"order_id": "ord_num", "event_id": org.event_id, "status": "pending"})
    sender = make_sender(org.db, policy=STRICT)  # the system's resolver
    try:
        assert await sender.deliver_due() >= 1
    finally:
        await sender.stop()
    (delivery,) = await deliveries_of(org.db, created.endpoint.id)
    assert "loopback address (127.0.0.1)" in (delivery.last_error or "") and receiver.hits == []
