"""Notifications: confirmation, refund and failed-payment emails sent through the outbox.

This package exports the pure and adapter parts: signed ticket codes, email rendering, calendar files and the
email transports. Delivery through the outbox lives in ``boxoffice.notifications.delivery``.

The names are imported on first use (``__getattr__``): importing any module of the package (a web worker reads
ticket codes and the email log) does not load the email rendering (Jinja, MIME, calendar files, QR codes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boxoffice.notifications.codes import (
        InvalidTicketCode,
        read_ticket_code,
        sign_ticket_code,
        ticket_code,
        verify_ticket_code,
    )
    from boxoffice.notifications.ics import build_ics
    from boxoffice.notifications.render import (
        LineView,
        OrderEmailContext,
        TicketView,
        format_money,
        message_id,
        render_confirmation,
        render_payment_failed,
        render_refund,
    )
    from boxoffice.notifications.transport import (
        EmailTransport,
        FileTransport,
        SMTPTransport,
        TransportError,
        make_transport,
    )

__all__ = [
    "EmailTransport",
    "FileTransport",
    "InvalidTicketCode",
    "LineView",
    "OrderEmailContext",
    "SMTPTransport",
    "TicketView",
    "TransportError",
    "build_ics",
    "format_money",
    "make_transport",
    "message_id",
    "read_ticket_code",
    "render_confirmation",
    "render_payment_failed",
    "render_refund",
    "sign_ticket_code",
    "ticket_code",
    "verify_ticket_code",
]

# name -> the module that defines it
_FROM = {
    **dict.fromkeys(
        ("InvalidTicketCode", "read_ticket_code", "sign_ticket_code", "ticket_code", "verify_ticket_code"), "codes"
    ),
    "build_ics": "ics",
    **dict.fromkeys(
        (
            "LineView",
            "OrderEmailContext",
            "TicketView",
            "format_money",
            "message_id",
            "render_confirmation",
            "render_payment_failed",
            "render_refund",
        ),
        "render",
    ),
    **dict.fromkeys(
        ("EmailTransport", "FileTransport", "SMTPTransport", "TransportError", "make_transport"), "transport"
    ),
}


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
