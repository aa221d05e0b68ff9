"""Security headers on every answer: a pure ASGI middleware (it wraps ``send``, so streams pass untouched).

- ``Content-Security-Policy``: pages get ``PAGE_POLICY`` (their scripts and styles are static files of this origin:
  no inline script, style or event handler anywhere), everything else (JSON, problem documents, SSE) the closed
  ``API_POLICY``; a path prefix may bring its own policy (the Stripe sandbox's page, the interactive API docs), and
  an answer that already carries a policy keeps it.
- ``frame-ancestors 'none'`` in every policy, and ``X-Frame-Options: DENY`` for older browsers.
- ``X-Content-Type-Options: nosniff``.
- ``Referrer-Policy``: ``no-referrer`` where the URL is a capability (an order and its token, a checkout session),
  ``strict-origin-when-cross-origin`` elsewhere.
- ``Strict-Transport-Security`` only in production (HTTPS is the proxy's business elsewhere).
- No ``Server`` banner: Uvicorn adds it below the ASGI layer, so every place that starts Uvicorn passes
  ``server_header=False``; a ``server`` header set by an application is dropped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRIPE_CHECKOUT = "https://checkout.stripe.com"
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_POLICY = (
    # /docs and /redoc show nothing but the OpenAPI document; their scripts are files of this origin (web/docs.py),
    # but Swagger UI and ReDoc set styles inline and ReDoc runs its search in a blob: worker, so they get a policy
    # of their own rather than weakening the pages'. Nothing is loaded from another host.
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The door scanner (/door/): its own files and the API, nothing else. The camera is not a fetch (no directive
# governs it); the service worker is a file of this origin; the page posts no form anywhere.
DOOR_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOOR_PREFIX = "/door/"
NO_REFERRER_PREFIXES = ("/orders/", "/api/v1/orders/", "/waiting-list/", "/api/v1/waiting-list/")
HSTS = "max-age=63072000; includeSubDomains"


def page_policy(public_url: str) -> str:
    """The buyer pages' policy. Forms post to this origin, which redirects to Stripe's (or the sandbox's)
    checkout: ``form-action`` covers the redirect's target too, so it names them. Images may come from any https
    origin: an event's image is a URL its organizer gives (https only, checked when it is set)."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self' {origin} {STRIPE_CHECKOUT}".replace("  ", " ")
    )


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        page: str,
        hsts: bool = False,
        policies: Mapping[str, str] | None = None,
        no_referrer: Sequence[str] = NO_REFERRER_PREFIXES,
    ) -> None:
        self.app, self.page, self.hsts = app, page, hsts
        self.policies = sorted((policies or {}).items(), key=lambda item: len(item[0]), reverse=True)
        self.no_referrer = tuple(no_referrer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        own = next((policy for prefix, policy in self.policies if path.startswith(prefix)), None)
        private = path.startswith(self.no_referrer)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "server" in headers:
                    del headers["server"]
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("Content-Security-Policy", own or (self.page if html else API_POLICY))
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer" if private else "strict-origin-when-cross-origin"
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
