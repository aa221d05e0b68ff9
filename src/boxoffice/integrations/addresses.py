"""Where a webhook may go: the URL rules and the addresses Boxoffice never sends to. Pure: no I/O.

No request goes to a private, loopback, link-local, multicast, reserved, unspecified or otherwise non-global address
(IPv4 or IPv6, also inside an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address). Names are checked after they are
resolved, on every new connection, and the connection goes to the address that was checked (``network.py``).
``allow_loopback`` (``BOXOFFICE_WEBHOOK_ALLOW_LOOPBACK``, refused in production) opens loopback only, for tests
and development. Redirects are never followed: a 3xx answer is a failed attempt.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from boxoffice.errors import ErrorCode, FieldError

MAX_URL_LENGTH = 2048
# What the API's schema states (ECMA-262, anchored): http(s), a host without user info, no white space or control
# characters, no fragment. The rest (a valid port, a valid IPv6 literal, the address policy) is checked by the
# service and answered with 422 naming ``url``.
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\u0000-\u0020\u007f/?#@\\]+(?:[/?][^\u0000-\u0020\u007f#]*)?$"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class UrlPolicy:
    """``https_only`` in production; ``allow_loopback`` for tests and development."""

    https_only: bool = True
    allow_loopback: bool = False


def _embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and would reach through a translator)."""
    out = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if ip in _NAT64:
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    return out


def refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why no webhook may go to ``ip`` (a few words), or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "scoped IPv6 address"
        for inner in _embedded(ip):
            reason = refusal(inner, allow_loopback=allow_loopback)
            if reason is not None:
                return reason
        if ip.ipv4_mapped is not None:
            return None
    if ip.is_loopback:
        return None if allow_loopback else "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "non-global address"
    return None


def parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _error(message: str, code: ErrorCode) -> FieldError:
    return FieldError("url", message, code=code)


def url_errors(url: str, policy: UrlPolicy) -> list[FieldError]:
    """What is wrong with a webhook URL (empty: nothing). A host given as an address is checked now; a name is
    checked at every delivery, after it is resolved."""
    if not url:
        return [_error("is required", ErrorCode.REQUIRED)]
    if len(url) > MAX_URL_LENGTH:
        return [
            FieldError(
                "url",
                f"must be at most {MAX_URL_LENGTH} characters",
                (("maximum", MAX_URL_LENGTH),),
                code=ErrorCode.TOO_LONG,
            )
        ]
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return [_error("must not contain white space or control characters", ErrorCode.INVALID_FORMAT)]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return [_error("is not a valid URL (its host or port cannot be read)", ErrorCode.INVALID_FORMAT)]
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return [_error("must be an http:// or https:// URL", ErrorCode.INVALID_FORMAT)]
    if scheme != "https" and policy.https_only:
        return [_error("must be an https:// URL in production", ErrorCode.HTTPS_REQUIRED)]
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return [_error("must not carry a user name or password (they would show in logs)", ErrorCode.INVALID_FORMAT)]
    if parts.fragment or "#" in url:
        return [_error("must not have a fragment (#...)", ErrorCode.INVALID_FORMAT)]
    host = parts.hostname or ""
    if not host or port == 0:
        return [_error("has no host (or port 0)", ErrorCode.INVALID_FORMAT)]
    ip = parse_ip(host)
    if ip is not None:
        reason = refusal(ip, allow_loopback=policy.allow_loopback)
        if reason is not None:
            return [_error(f"points to a {reason}: webhooks only go to public addresses", ErrorCode.FORBIDDEN_ADDRESS)]
    elif _is_localhost(host) and not policy.allow_loopback:
        return [
            _error("points to a loopback address: webhooks only go to public addresses", ErrorCode.FORBIDDEN_ADDRESS)
        ]
    return []


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")
