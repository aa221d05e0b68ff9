"""The door scanner page (``/door/``) and its service worker (``/door/sw.js``).

The page is the same for every device and holds no data: a paired phone keeps its token and list (from the pairing
link's fragment) in localStorage and everything else comes from the check-in API (``web/api/checkin.py``), so the
service worker can keep the page for offline use. Its script and styles are static files (``static/door/``), the QR
decoder is jsQR, vendored unchanged (``static/vendor/jsqr/``, see VENDOR.txt there). The words of every scan result
come from the pages' one table (``web/pages/words.py``). The page's Content-Security-Policy is ``DOOR_POLICY``
(``web/headers.py``).
"""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from boxoffice.checkin.rules import REFUSALS
from boxoffice.web.pages.render import static_url, templates
from boxoffice.web.pages.words import say

router = APIRouter(include_in_schema=False)
PAGE = "/door/"
NO_CACHE = {"Cache-Control": "no-cache", "X-Robots-Tag": "noindex"}


def shell() -> list[str]:
    """What the service worker keeps: the page and its files (with their content versions)."""
    return [PAGE, static_url("door/door.js"), static_url("door/door.css"), static_url("vendor/jsqr/jsQR.js")]


def result_words() -> dict[str, str]:
    return {result.value: say(result.error_code, "code") for result in REFUSALS}


@router.get(PAGE, response_class=HTMLResponse)
async def door_page(request: Request) -> HTMLResponse:
    response: HTMLResponse = templates.TemplateResponse(
        request, "door/door.html", {"words": json.dumps(result_words())}, headers=NO_CACHE
    )
    return response


@router.get(PAGE + "sw.js")
async def service_worker(request: Request) -> Response:
    files = shell()
    version = hashlib.sha256(json.dumps(files).encode()).hexdigest()[:12]
    body = templates.get_template("door/sw.js").render(shell=files, version=version)
    return Response(body, media_type="text/javascript", headers=NO_CACHE)
