"""What a web worker loads (issue 15: at most 120 MB per worker): the web app, once imported and built, holds none of
the packages only the CLI, the XLSX export, outgoing webhooks or the Stripe SDK's unused default clients need; and
``boxoffice serve --workers N`` does not make each spawned worker run the CLI again as its main module."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing.spawn
import subprocess
import sys
from pathlib import Path

import pytest

from boxoffice import cli
from tests.processes import ROOT

# openpyxl: the XLSX export; requests, urllib3, charset_normalizer: the Stripe SDK's default sync client; httpx,
# httpcore and the command-line tools httpx's import brings in (rich, pygments): the webhook sender and the sandbox's
# deliveries, and the SDK's default async client; aiosmtplib: sending emails by SMTP (the worker); typer: the CLI;
# alembic, mako: migrations; pycountry: the country list, read when a page or an answer first needs it; argon2:
# password hashing, imported on the first sign-in or password set; segno: QR codes, imported where a page or an email
# draws one.
NOT_IN_A_WEB_WORKER = {
    "aiosmtplib",
    "alembic",
    "argon2",
    "charset_normalizer",
    "httpcore",
    "httpx",
    "mako",
    "openpyxl",
    "pycountry",
    "pygments",
    "requests",
    "rich",
    "segno",
    "typer",
    "urllib3",
}


# The Stripe sandbox's own modules, imported only where a sandbox is made: a production web worker (a Stripe key) loads
# only ``boxoffice.sandbox.policy``, the Content-Security-Policy of the sandbox's path.
SANDBOX_ONLY = {
    "boxoffice.sandbox.app",
    "boxoffice.sandbox.config",
    "boxoffice.sandbox.delivery",
    "boxoffice.sandbox.errors",
    "boxoffice.sandbox.faults",
    "boxoffice.sandbox.forms",
    "boxoffice.sandbox.idempotency",
    "boxoffice.sandbox.objects",
    "boxoffice.sandbox.page",
    "boxoffice.sandbox.server",
    "boxoffice.sandbox.state",
    "boxoffice.sandbox.validation",
}

# The email rendering (Jinja's email templates, MIME, calendar files, QR codes): imported where the worker makes an
# email, not by the Mailer, the outbox's email handlers or the ticket codes and email log a web worker uses.
EMAIL_RENDERING = {
    "boxoffice.notifications.ics",
    "boxoffice.notifications.mime",
    "boxoffice.notifications.qr",
    "boxoffice.notifications.render",
}

WEBHOOK_SECRET = "whsec_imports000000000000000001"


@pytest.mark.parametrize("stripe_key", [None, "sk_test_imports000000000000000001"], ids=["sandbox", "stripe-key"])
def test_a_web_process_loads_none_of_them(tmp_path: Path, stripe_key: str | None) -> None:
    code = (
        "import json, os, sys\n"
        f"os.environ['BOXOFFICE_DATABASE_URL'] = 'sqlite+aiosqlite:///{tmp_path / 'web.db'}'\n"
        "from boxoffice.web.app import create_app\n"
        "create_app()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # none of the test run's settings
    if stripe_key:  # production's case: no sandbox
        env |= {"STRIPE_SECRET_KEY": stripe_key, "STRIPE_WEBHOOK_SECRETS": WEBHOOK_SECRET}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert sorted({m.split(".")[0] for m in modules} & NOT_IN_A_WEB_WORKER) == []
    assert all(importlib.util.find_spec(name) for name in EMAIL_RENDERING)  # real names: none is missed by a typo
    assert sorted(modules & EMAIL_RENDERING) == []
    if stripe_key:
        assert all(importlib.util.find_spec(name) for name in SANDBOX_ONLY)  # real names: none is missed by a typo
        assert sorted(modules & SANDBOX_ONLY) == []


def test_the_stripe_sdk_works_without_the_hidden_clients_and_they_stay_importable() -> None:
    code = (
        "import sys\n"
        "from boxoffice.payments import gateway\n"
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules\n"
        "assert gateway.stripe.StripeClient is not None\n"
        "import requests, httpx\n"  # hidden only while the SDK was imported
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "ok"


def test_spawned_workers_do_not_run_the_cli_again() -> None:
    """``spawn`` runs the parent's main module again in a child when its preparation data names it (by module name
    or by path); while Uvicorn runs, it names none, and the parent's main module is back afterwards."""
    main = sys.modules["__main__"]
    with cli._main_not_rerun_in_workers():
        data = multiprocessing.spawn.get_preparation_data("web worker")
        assert "init_main_from_name" not in data
        assert "init_main_from_path" not in data
    assert sys.modules["__main__"] is main


UPGRADE_ASKED = """
import asyncio, socket, sys
import uvicorn
from boxoffice.web.serving import WS_PROTOCOL

scopes = []

async def app(scope, receive, send):
    scopes.append(scope["type"])
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close"})  # refused, as the app refuses any WebSocket

async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, ws=WS_PROTOCOL, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    assert "websockets" not in sys.modules
    reader, writer = await asyncio.open_connection(*sock.getsockname())
    writer.write(
        b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
    )
    print(scopes, (await reader.readline()).decode().strip(), "websockets" in sys.modules)
    writer.close()
    server.should_exit = True
    await task

asyncio.run(main())
"""


def test_uvicorn_imports_its_websocket_protocol_when_an_upgrade_is_asked() -> None:
    """``boxoffice serve`` gives Uvicorn a WebSocket protocol that is imported on the first upgrade request, not in
    every worker; it is the one Uvicorn's ``"auto"`` picks, so such a request still reaches the app as a WebSocket
    (which refuses it: 403), not as plain HTTP."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    assert AutoWebSocketsProtocol is WebSocketsSansIOProtocol
    done = subprocess.run([sys.executable, "-c", UPGRADE_ASKED], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['websocket'] HTTP/1.1 403 Forbidden True"


def test_uvicorn_loads_no_reload_watcher_into_a_worker() -> None:
    # `import uvicorn` (every spawned worker's first import) loads watchfiles whenever it is installed, for a --reload
    # that `boxoffice serve` does not offer: the dependencies name Uvicorn's standard extras but that one.
    code = "import sys, uvicorn; print(sorted(m for m in sys.modules if m.split('.')[0] == 'watchfiles'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
