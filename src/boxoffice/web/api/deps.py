"""Shared dependencies: the container, organizer authentication (API keys), the door's scanners (API keys and door
devices), order authentication (order token)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from boxoffice.accounts import service as accounts
from boxoffice.checkin.devices import is_device_token
from boxoffice.checkin.rules import Scanner
from boxoffice.container import Boxoffice
from boxoffice.errors import NotFound, Unauthorized
from boxoffice.events.models import Person
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.orders import get_order_with_token

bearer = HTTPBearer(
    auto_error=False, description="An organizer API key, a door device token, or an order's access token."
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_box(request: Request) -> Boxoffice:
    # async: FastAPI would run a plain function in a worker thread, a thread hand-off on every request
    box: Boxoffice = request.app.state.box
    return box


Box = Annotated[Boxoffice, Depends(get_box)]


async def get_organizer(box: Box, credentials: Credentials) -> Person:
    if credentials is None:
        raise HTTPException(401, "an organizer API key is required (Authorization: Bearer <key>)", headers=CHALLENGE)
    try:
        return await accounts.authenticate(box.db, credentials.credentials)
    except Unauthorized as exc:
        raise HTTPException(401, exc.detail, headers=CHALLENGE) from None


Organizer = Annotated[Person, Depends(get_organizer)]


def organizer_scanner(organizer: Person) -> Scanner:
    """An organizer at the door: every list of their events, every right (lists, devices, undo)."""
    return Scanner(organizer_id=organizer.id, can_undo=True, can_manage=True)


async def get_scanner(box: Box, credentials: Credentials) -> Scanner:
    """Who is at the door, from whatever credentials they hold: the one place that turns credentials into a
    ``Scanner`` (an organizer's API key, or a device token: a paired door device's, or the one the console mints for
    a signed-in team member, which works only while that console session does: ``checkin.devices``)."""
    if credentials is None:
        raise HTTPException(
            401, "an API key or a door device token is required (Authorization: Bearer <token>)", headers=CHALLENGE
        )
    raw = credentials.credentials
    try:
        if is_device_token(raw):
            return await box.devices.authenticate(raw)
        return organizer_scanner(await accounts.authenticate(box.db, raw))
    except Unauthorized as exc:
        raise HTTPException(401, exc.detail, headers=CHALLENGE) from None


Door = Annotated[Scanner, Depends(get_scanner)]


def door_still_valid(box: Boxoffice, credentials: HTTPAuthorizationCredentials | None) -> Callable[[], Awaitable[bool]]:
    """For a door's live stream: whether the credentials ``get_scanner`` accepted still hold (a device token: read
    again through the devices' 2-second cache, dropped at once on a revocation or sign-out in this process; an API
    key: ``box.live_checks``). Asked before every frame, so a revoked token's open stream ends."""
    raw = credentials.credentials if credentials is not None else ""

    async def key_holds() -> bool:
        try:
            await accounts.authenticate(box.db, raw)
        except Unauthorized:
            return False
        return True

    async def still_valid() -> bool:
        if not is_device_token(raw):
            return await box.live_checks.check("key:" + hashlib.sha256(raw.encode()).hexdigest(), key_holds)
        try:
            await box.devices.authenticate(raw)
        except Unauthorized:
            return False
        return True

    return still_valid


ORDER_COOKIE_PREFIX = "bo_order_"


def order_cookie(order_id: str) -> str:
    """The cookie that carries an order's token once its page was opened with it (see web/pages/order.py)."""
    return ORDER_COOKIE_PREFIX + order_id


def order_token_of(request: Request, order_id: str, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The order token a request carries: ``Authorization: Bearer``, else the order's cookie."""
    if credentials is not None:
        return credentials.credentials
    return request.cookies.get(order_cookie(order_id))


async def buyer_order(
    order_id: str,
    request: Request,
    box: Box,
    credentials: Credentials,
    token: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The order's token, for clients that cannot send a header (EventSource); prefer "
            "`Authorization: Bearer <token>`. The order page's cookie is accepted too.",
        ),
    ] = None,
) -> Order:
    """The order its token opens, taken the same three ways on every order endpoint: ``Authorization: Bearer``, the
    order page's cookie, or ``?token=``."""
    return await order_for_token(box, order_id, order_token_of(request, order_id, credentials) or token)


async def order_for_token(box: Boxoffice, order_id: str, token: str | None) -> Order:
    if not token:
        raise HTTPException(401, "the order's token is required (Authorization: Bearer <token>)", headers=CHALLENGE)
    try:
        if len(token) > 200:
            raise NotFound(f"order {order_id} not found")
        return await get_order_with_token(box.db, order_id, token, box.settings.signing_keys)
    except NotFound:
        # A token that opens no order of this id, whether or not the order exists: invalid credentials (401), the
        # same answer either way, so it tells nothing about which orders exist.
        raise HTTPException(401, "this token does not open an order with this id", headers=CHALLENGE) from None


BuyerOrder = Annotated[Order, Depends(buyer_order)]
