"""The processes ``boxoffice serve`` and ``boxoffice worker`` start settle their heap once they have started: what
startup made is moved out of the cyclic collector's way (``boxoffice.heap``); an application made anywhere else
(tests, an embedding program) leaves the collector alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from boxoffice import cli
from boxoffice.settings import Settings
from tests.processes import ROOT

STARTED = """
import asyncio, gc, os, sys
os.environ['BOXOFFICE_DATABASE_URL'] = 'sqlite+aiosqlite:///{db}'
from boxoffice.web import app as web_app

async def main():
    app = getattr(web_app, sys.argv[1])()
    async with app.router.lifespan_context(app):
        print(gc.get_freeze_count())

asyncio.run(main())
"""


@pytest.mark.parametrize("factory", ["serve_app", "create_app"])
def test_a_served_application_settles_its_heap_once_started(tmp_path: Path, factory: str) -> None:
    code = STARTED.format(db=tmp_path / "heap.db")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # none of the test run's settings
    done = subprocess.run(
        [sys.executable, "-c", code, factory], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    frozen = int(done.stdout)
    if factory == "serve_app":
        assert frozen > 50_000  # modules, the app, its models: everything startup made
    else:
        assert frozen == 0


def test_boxoffice_serve_hands_uvicorn_the_settled_application(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    handed: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: handed.append((app, kw["factory"])))
    cli._run_uvicorn("127.0.0.1", 8000, 1, Settings(database_url="sqlite+aiosqlite:///unused.db"))
    assert handed == [("boxoffice.web.app:serve_app", True)]
