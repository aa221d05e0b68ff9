"""A request's parameters as the Stripe SDK sends them: ``application/x-www-form-urlencoded``, byte for byte.

The SDK flattens the parameters (``_api_encode``: ``line_items[0][price_data][currency]``), joins them with
``urllib.parse.urlencode`` (``quote_plus`` on every key and value) and puts the brackets back (``%5B`` and ``%5D``
become ``[`` and ``]`` again, in the whole body). ``quote_plus`` goes byte by byte in Python for any string with a
character to escape, and every key has its brackets: about a tenth of the Checkout Session call's CPU. Here an ASCII
string is escaped by one ``str.translate`` with the same table (the unreserved characters kept, the brackets kept, a
space as ``+``, anything else as ``%XX``); a string with other characters still goes to ``quote_plus``. Keys, the same
few dozen in every session, are kept once escaped. The flattening is the SDK's too, written out for the plain
values a Checkout Session has (dicts, lists, strings, integers, booleans, None): the SDK's builds an ordered dict per
nested object and recurses through generators, a third of the encoding's CPU; any other value (a datetime, an SDK
object, a subclass of these) is flattened by the SDK's own ``_api_encode``. The tests compare the body with the SDK's
own for generated parameters.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus

_ESCAPES = str.maketrans(
    {
        chr(c): (
            chr(c) if chr(c) in string.ascii_letters + string.digits + "_.-~[]" else "+" if c == 32 else f"%{c:02X}"
        )
        for c in range(128)
    }
)


def _escaped(value: Any) -> str:
    if not isinstance(value, bytes):
        text = str(value)
        if text.isascii():
            return text.translate(_ESCAPES)
        value = text
    return quote_plus(value).replace("%5B", "[").replace("%5D", "]")


_KEYS: dict[str, str] = {}  # escaped keys: a Checkout Session's are the same few dozen every time
KEPT_KEYS = 1024


def _escaped_key(key: Any) -> str:
    if type(key) is str:
        found = _KEYS.get(key)
        if found is None:
            found = _escaped(key)
            if len(_KEYS) < KEPT_KEYS:
                _KEYS[key] = found
        return found
    return _escaped(key)


def _sdk_flattened(key: Any, value: Any) -> Iterable[tuple[Any, Any]]:
    from stripe._encode import _api_encode  # imported by then (payments.gateway), with its unused clients hidden

    return _api_encode({key: value})


def _flatten(items: Iterable[tuple[Any, Any]], out: list[tuple[Any, Any]]) -> None:
    """``_api_encode`` of a mapping's ``items``, appended to ``out``: the same pairs in the same order (its key
    formats too: ``str`` of a key, as ``%s`` gives, which a plain f-string's ``format`` is not for some types)."""
    for key, value in items:
        kind = type(value)
        if kind is str or kind is int:
            out.append((key, value))
        elif value is None:
            continue
        elif kind is dict:
            _flatten(((f"{key!s}[{sub!s}]", item) for sub, item in value.items()), out)
        elif kind is bool:
            out.append((key, "true" if value else "false"))
        elif kind is list and all(type(item) in _PLAIN_ITEMS for item in value):
            for index, item in enumerate(value):
                indexed = f"{key!s}[{index}]"
                if type(item) is dict:
                    _flatten(((f"{indexed}[{sub!s}]", sub_item) for sub, sub_item in item.items()), out)
                else:
                    out.append((indexed, item))
        else:
            out.extend(_sdk_flattened(key, value))


_PLAIN_ITEMS = (str, int, dict)  # a list of these is flattened here: its items are not skipped nor rewritten


def form_body(params: Mapping[str, Any]) -> str:
    """``params`` as the body the SDK sends for them."""
    pairs: list[tuple[Any, Any]] = []
    _flatten(params.items(), pairs)
    return "&".join(f"{_escaped_key(key)}={_escaped(value)}" for key, value in pairs)
