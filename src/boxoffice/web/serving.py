"""What ``boxoffice serve`` hands Uvicorn beyond the app: its WebSocket protocol, imported when first needed.

Boxoffice serves no WebSocket, but Uvicorn's ``ws="auto"`` imports its WebSocket protocol and the ``websockets``
package (19 modules, 0.65 MB) in every worker when it starts. ``websocket_protocol`` is the same protocol, the one
``"auto"`` picks when ``websockets`` is installed (it is locked), imported on the first upgrade request: such a
request is answered as before (the app refuses the WebSocket, 403) and nothing new is logged, where ``ws="none"``
would answer it as plain HTTP and log two warnings for each.
"""

from __future__ import annotations

import asyncio
from typing import Any

WS_PROTOCOL = "boxoffice.web.serving:websocket_protocol"  # Uvicorn's ``ws`` setting, imported by each worker


def websocket_protocol(**kwargs: Any) -> asyncio.Protocol:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    return WebSocketsSansIOProtocol(**kwargs)
