"""Every page of one node, in English and Spanish, at 1280 and 390 px (page_checks.py).

The browser's language (Accept-Language, from the context's locale) picks the language;
one test switches it in the header instead and checks the choice is remembered. Pages
are visited in a loop, one browser context per language, one sign-in per role.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, RunningNode, browser_page
from tests.browser.page_checks import LANGUAGES, check_page

pytestmark = pytest.mark.browser

WELCOME = {"en": "Welcome, {}", "es": "Bienvenido, {}"}
SIGN_IN = {"en": "Sign in", "es": "Iniciar sesión"}


def pages(node: RunningNode) -> dict[str, list[tuple[str, str]]]:
    """(name, path) of every page, by the user who sees it ("" before signing in)."""
    xss, secondary = node.xss_student, node.secondary_student
    return {
        "": [("login", "/login"), ("help", "/help")],
        "sam": [("home-staff", "/"), ("students", "/students?q=Brien&purpose=placement"),
                ("purpose", f"/students/{xss}"),
                ("record", f"/students/{xss}?purpose=placement"),
                ("search-form", "/search"), ("arrivals", "/moves/inbox?status=all"),
                ("notices-sent", "/moves/outbox"), ("help-staff", "/help"),
                ("not-found", "/no/such/page"), ("forbidden", "/users")],
        "dana": [("home-admin", "/"), ("data-quality", "/data-quality"),
                 ("worklist", "/worklist"), ("links", "/links"),
                 ("record-credits", f"/students/{secondary}?purpose=credit_accrual")],
        "audrey": [("home-auditor", "/"), ("checkpoints", "/audit"),
                   ("exchange-log", "/audit/log"),
                   ("disclosures", f"/audit/student?student={xss}")],
        "otto": [("home-operator", "/"), ("users", "/users"), ("status", "/status")],
    }


def sign_in(page: Any, username: str, lang: str, *, fresh: bool = True) -> None:
    if fresh:
        page.context.clear_cookies()
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=SIGN_IN[lang], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(WELCOME[lang].format(username))


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_page(browser: Any, node: RunningNode, shoot: Any, lang: str) -> None:
    problems: list[str] = []
    with browser_page(browser, 10_000, base_url=node.url, locale=LANGUAGES[lang]) as page:
        for user, visits in pages(node).items():
            if user:
                sign_in(page, user, lang)
            for name, path in visits:
                page.goto(path)
                problems += check_page(page, shoot, name, lang)
            if user == "sam":  # the print view of the record, as the family gets it
                page.goto(f"/students/{node.xss_student}?purpose=placement")
                page.emulate_media(media="print")
                expect(page.locator("header.top")).to_be_hidden()
                shoot(page, f"record-print-{lang}")
                page.emulate_media(media="screen")
    assert problems == []


def test_language_switch_is_remembered(browser: Any, node: RunningNode, shoot: Any) -> None:
    with browser_page(browser, 10_000, base_url=node.url, locale="en-US") as page:
        page.goto("/login")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_role("button", name="Español").click()
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
        sign_in(page, "sam", "es", fresh=False)  # the choice outlives the sign-in
        page.goto("/students?q=Brien&purpose=placement")
        expect(page.get_by_role("heading", name="1 estudiante encontrado")).to_be_visible()
        shoot(page, "students-es")
        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name="1 student found")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")
