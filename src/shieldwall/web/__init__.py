"""Server-rendered pages (Jinja2). Every asset ships in the package; no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    """Add the pages, the static files and an offline /docs to ``app``."""
    import swagger_ui_bundle

    from shieldwall.web import accountability as accountability_pages
    from shieldwall.web import (
        banks,
        conversations,
        pages,
        preferences,
        review,
        review_media,
        scan,
        terms,
    )
    from shieldwall.web import exchanges as exchange_pages
    from shieldwall.web.security import install_handlers

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(
        "/docs-static",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-static",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="shieldwall API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    app.include_router(pages.router)
    app.include_router(banks.router)
    app.include_router(exchange_pages.router)
    app.include_router(scan.router)
    app.include_router(accountability_pages.router)
    app.include_router(review.router)
    app.include_router(review_media.router)
    app.include_router(preferences.router)
    app.include_router(terms.router)
    app.include_router(conversations.router)
    from shieldwall.web import transparency as transparency_pages

    app.include_router(transparency_pages.router)
    from shieldwall.web import reports as report_pages

    app.include_router(report_pages.router)
    from shieldwall.web import evidence as evidence_pages

    app.include_router(evidence_pages.router)
    install_handlers(app)
