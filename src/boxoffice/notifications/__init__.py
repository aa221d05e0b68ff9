"""Notifications: confirmation, refund and failed-payment emails sent through the outbox.

This package exports the pure and adapter parts: signed ticket codes, email rendering, calendar files and the
email transports. Delivery through the outbox lives in ``boxoffice.notifications.delivery``.
"""

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
