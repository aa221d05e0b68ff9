"""Stripe's form encoding: ``a[b][0][c]=v`` nesting, indexed lists, ``expand[]``.

The SDK sends literal brackets in POST bodies, but a query string may carry them percent-encoded
(``expand%5B0%5D=line_items``), so keys are URL-decoded before their brackets are parsed
(``shared/stripe/README.md`` section 1).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A body or query string whose keys contradict each other (``a=1&a[b]=2``)."""


def _key_path(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [head]
    return [head, *_BRACKETED.findall(bracket + rest)]


def _listify(node: Any) -> Any:
    """Dicts keyed ``"0"``, ``"1"``, ... (every index present) become lists, recursively."""
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and set(converted) == {str(i) for i in range(len(converted))}:
        return [converted[str(i)] for i in range(len(converted))]
    return converted


def parse_form(raw: bytes | str) -> dict[str, Any]:
    """Decode a form body or query string into nested dicts and lists; every leaf is a string."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        path = _key_path(key)
        node = root
        for depth, part in enumerate(path):
            if part == "":  # "expand[]=a&expand[]=b" appends
                part = str(sum(1 for k in node if k.isdigit()))
            if depth == len(path) - 1:
                if isinstance(node.get(part), dict):
                    raise FormError(f"Invalid parameters: {key} conflicts with another parameter.")
                node[part] = value
                break
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise FormError(f"Invalid parameters: {key} conflicts with another parameter.")
            node = child
    result = _listify(root)
    return result if isinstance(result, dict) else {}
