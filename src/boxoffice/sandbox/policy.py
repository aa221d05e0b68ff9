"""The Content-Security-Policy of the sandbox's checkout page, for the sandbox's path.

The page has no script and one inline ``<style>`` block, allowed by its SHA-256. The block is plain text in the
template (no Jinja inside), so it is hashed as read from the file: the web app sets this policy on the sandbox's path
in every process, and a production one (which never mounts the sandbox) does not compile the page's template for it.
``tests/web/test_security_headers.py`` checks the policy against the page as rendered.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

TEMPLATE = Path(__file__).parent / "templates" / "checkout.html"


def _style_source() -> str:
    """The CSP source of the page's one inline ``<style>`` block (its SHA-256)."""
    match = re.search(r"<style>(.*?)</style>", TEMPLATE.read_text(encoding="utf-8"), re.S)
    digest = hashlib.sha256(match.group(1).encode() if match else b"").digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


# No form-action: the page's form ends in a redirect to the merchant's success or cancel URL, which may be anywhere.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_style_source()}; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
)
