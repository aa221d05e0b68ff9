"""Buyer pages: the event page with its checkout form, and the order page with its tickets.

Server-rendered and accessible; everything works without JavaScript except the live updates (availability and
order status arrive over the SSE streams of ``/api/v1``). The pages depend on no other part of the JSON API.
Errors are shown on the page in words a buyer understands, never as a problem document or a stack trace.

``event`` and ``order`` hold the two pages and their actions (``codes``: the event page with a voucher code;
``waitlist``: joining a waiting list from the event page and leaving it), ``self_service`` the order page's forms
that change its attendees and answers and hand tickets on (``questions`` builds and reads their inputs), ``forms``
reads the checkout form and points its problems at their fields, ``words`` says every error code in words (one
table), ``render`` has what every page shares (templates, the page route class, messages, dates in words),
``kept_pages`` keeps the event page as everyone sees it for a second in each process.
"""

from __future__ import annotations

from fastapi import APIRouter

from boxoffice.web.pages import event, order, self_service, waitlist

router = APIRouter(include_in_schema=False)
router.include_router(event.router)
router.include_router(order.router)
router.include_router(self_service.router)
router.include_router(waitlist.router)
