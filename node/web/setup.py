"""Assembling the staff web UI: the framework of `node.web.site` plus every page module.

This is the web room's one entry point (`setup_web`), called by the composition root.
The page modules import the framework; the framework imports no page, so adding a page
means writing `node/web/<area>_pages.py` with a `setup(app)` and naming it here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from aiohttp import web

from node.appkeys import CONFIG, WEB
from node.importing.demo_children import EXAMPLES
from node.matching import outcome_words
from node.web import (
    audit_pages,
    auth_pages,
    help_pages,
    local_pages,
    move_pages,
    people_pages,
    record_pages,
    report_pages,
    search_pages,
    status_pages,
    worklist_pages,
)
from node.web.i18n import register_patterns, register_phrases
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
                  status_pages, report_pages, people_pages, help_pages):
        pages.setup(app)

    register_phrases(catalogue_words())
    register_patterns([local_pages.NO_STUDENT, record_pages.TOO_MANY, move_pages.CANNOT_SEND])


def catalogue_words() -> Iterator[str]:
    """English words the pages show that are written in other rooms or in constants:
    the matcher's outcome and agreement words, alert chips, purposes, flash messages,
    the demo's examples. They are in the catalogue (scripts/i18n.py) and translated
    wherever they are shown, also inside the texts composed of them (`i18n.phrases`)."""
    yield from outcome_words.OUTCOME_WORDS.values()
    yield outcome_words.SAME_ID
    yield from outcome_words.AGREEMENT_LEVELS.values()
    yield from outcome_words.AGREEMENT_FIELDS.values()
    yield from (text for _level, text, _raised in local_pages.ENROLLMENT_ALERTS)
    yield "Multiple birth (twin or more)"
    yield "MEP eligible until"
    yield "MEP eligibility expired"
    yield from local_pages.PURPOSE_LABELS.values()
    yield from auth_pages.LOCK_MESSAGES.values()
    yield from move_pages.STATUS_LABELS.values()
    yield from move_pages.INBOX_DONE.values()
    yield from worklist_pages.DONE.values()
    yield from (label for label, _keys, _agreement in worklist_pages.FIELDS)
    for words in search_pages.SEARCH_WORDS.values():
        yield from ([words] if isinstance(words, str) else words)
    for example in EXAMPLES:
        yield example["title"]
        yield example["says"]
