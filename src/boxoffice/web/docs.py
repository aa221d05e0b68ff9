"""The interactive API documentation, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), working with no internet access:
their script and style files come from the ``fastapi-offline`` package (Swagger UI 5 and ReDoc 2, as published on
PyPI) and are served by Boxoffice itself under ``/docs/assets``; Swagger UI is started by a static file of ours
(``static/docs.js``), so no inline script runs. ``web/headers.py`` gives these pages their own policy, which also
stops the one file ReDoc always asks of another host (Redocly's logo beside "API docs by Redocly")."""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from boxoffice.web.pages.render import static_url

ASSETS = "/docs/assets"
ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    openapi = f"{request.scope.get('root_path', '')}{app.openapi_url}"
    return _page(
        f"{app.title} API · Swagger UI",
        f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">\n',
        f'<div id="swagger-ui" data-openapi="{escape(openapi)}"></div>\n'
        f'<script src="{ASSETS}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{escape(static_url("docs.js"))}"></script>\n',
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    app = request.app
    openapi = f"{request.scope.get('root_path', '')}{app.openapi_url}"
    return _page(
        f"{app.title} API · ReDoc",
        "",
        f'<redoc spec-url="{escape(openapi)}"></redoc>\n<script src="{ASSETS}/redoc.standalone.js"></script>\n',
    )


def install(app: FastAPI) -> None:
    """``/docs``, ``/redoc`` and their files (the app is created with FastAPI's own CDN pages turned off)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=ASSET_DIR), name="docs-assets")
