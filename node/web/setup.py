"""Assembling the staff web UI: the framework of `node.web.site` plus every page module.

This is the web room's one entry point (`setup_web`), called by the composition root.
The page modules import the framework; the framework imports no page, so adding a page
means writing `node/web/<area>_pages.py` with a `setup(app)` and naming it here.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from node.appkeys import CONFIG, WEB
from node.web import (
    audit_pages,
    auth_pages,
    help_pages,
    local_pages,
    move_pages,
    record_pages,
    search_pages,
    status_pages,
    worklist_pages,
)
from node.web.site import (
    HERE,
    WebState,
    csrf,
    dummy_hash_startup,
    make_env,
    node_errors,
    security_headers,
    sessions,
    switch_language,
)


def setup_web(app: web.Application) -> None:
    """Add the staff web UI (templates, static files, pages, middlewares) to the node app."""
    if WEB in app:
        return
    cfg = app[CONFIG]
    app[WEB] = WebState(env=make_env(), csrf_secret=secrets.token_bytes(32),
                        tls=cfg.server.tls_cert is not None)
    app.middlewares.extend([security_headers, node_errors, sessions, csrf])
    app.on_startup.append(dummy_hash_startup)
    app.router.add_static("/static/", HERE / "static", name="static")
    app.router.add_post("/language", switch_language)
    auth_pages.setup(app)
    local_pages.setup(app)
    for pages in (search_pages, record_pages, move_pages, worklist_pages, audit_pages,
                  status_pages, help_pages):
        pages.setup(app)
