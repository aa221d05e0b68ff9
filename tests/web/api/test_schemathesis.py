"""Schemathesis over the OpenAPI spec of a running server: no input makes it answer 5xx, and every response
conforms to the documented schema. The SSE streams never end, so they are left out (tested in test_api.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.helpers import make_event, make_ticket
from tests.web.api.conftest import Api

ST = Path(sys.executable).with_name("st")


async def test_no_5xx_and_schema_conformance(api: Api, tmp_path: Path) -> None:
    event = await make_event(api.srv.box.db)
    await make_ticket(api.srv.box.db, event.id, quantity=1000)
    proc = await asyncio.create_subprocess_exec(
        str(ST),
        "run",
        f"{api.srv.url}/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
        "--max-examples",
        os.environ.get("BOXOFFICE_SCHEMATHESIS_EXAMPLES", "25"),
        "--generation-deterministic",
        "--exclude-path-regex",
        "/stream$",
        "--header",
        f"Authorization: Bearer {api.key}",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 600)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
