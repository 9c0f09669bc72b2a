"""The web UI in a real headless Chromium against a real node process.

Keyboard sign-in with labelled fields, each role's pages, a local record whose student
is named like an HTML payload (it must render as text and run nothing), the print view,
refusal of another role's page, and sign-out. Every page is saved as a screenshot.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, XSS_NAME, RunningNode

pytestmark = pytest.mark.browser

UNLABELLED_JS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {username}")


def assert_labelled(page: Any) -> None:
    assert page.evaluate(UNLABELLED_JS) == [], f"fields without a label on {page.url}"


def focused(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.id || "
                             "document.activeElement.textContent.trim()"))


def test_sign_in_by_keyboard(page: Any, shoot: Any) -> None:
    page.goto("/login")
    assert_labelled(page)
    shoot(page, "login")
    assert focused(page) == "username", "the username field has the focus"
    # backwards: the header's language switch and help link, then the skip link
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "Español"
    page.keyboard.press("Shift+Tab")
    assert focused(page).endswith("Help for this page")
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "Skip to main content"
    for _ in range(3):
        page.keyboard.press("Tab")
    assert focused(page) == "username"
    page.keyboard.type("sam")
    page.keyboard.press("Tab")
    assert focused(page) == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, sam")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Find a student")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    assert_labelled(page)
    shoot(page, "dashboard")
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to main content"
    shoot(page, "skip-link")
    page.keyboard.press("Enter")
    assert focused(page) == "main"


def test_wrong_password_is_told(page: Any, shoot: Any) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    shoot(page, "login-error")


def test_record_of_student_with_hostile_name(page: Any, node: RunningNode, shoot: Any) -> None:
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in(page, "sam")
    page.get_by_role("link", name="Find a student").click()
    page.get_by_label("Name or state student id").fill("Brien")
    page.get_by_label("Purpose of use").select_option("placement")
    page.get_by_label("Name or state student id").press("Enter")
    expect(page.get_by_role("heading", name="1 student found")).to_be_visible()
    assert_labelled(page)
    shoot(page, "search-results")
    page.get_by_role("link", name=f"{XSS_NAME} O'Brien").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(XSS_NAME)
    expect(heading).to_contain_text("O'Brien")
    assert page.locator("img").count() == 0
    assert page.locator("[onerror]").count() == 0
    expect(page.get_by_role("heading", name="Enrollments")).to_be_visible()
    expect(page.get_by_role("heading", name="Qualifying moves")).to_be_visible()
    expect(page.get_by_text("Opened for:")).to_contain_text("Grade or course placement")
    shoot(page, "record")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_text("Confidential student record")).to_be_visible()
    shoot(page, "record-print")
    page.emulate_media(media="screen")
    assert dialogs == [], "a script ran from student data"
    assert not [c for c in console if "Content Security Policy" in c], console


def test_secondary_record_with_credits(page: Any, node: RunningNode, shoot: Any) -> None:
    sign_in(page, "sam")
    page.goto(f"/students/{node.secondary_student}?purpose=credit_accrual")
    expect(page.get_by_role("heading", name="Secondary course history")).to_be_visible()
    expect(page.get_by_text("Credits by subject area")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^Total"))).to_be_visible()
    expect(page.get_by_role("heading", name="Assessments")).to_be_visible()
    shoot(page, "record")
    page.emulate_media(media="print")
    shoot(page, "record-print")


def test_purpose_is_asked_before_a_record(page: Any, node: RunningNode, shoot: Any) -> None:
    sign_in(page, "dana")
    page.goto(f"/students/{node.xss_student}")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Why are you opening this record?")
    assert_labelled(page)
    shoot(page, "purpose")
    page.get_by_label("Purpose of use").select_option("credit_accrual")
    page.get_by_role("button", name="Open the record").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("O'Brien")


@pytest.mark.parametrize(("username", "path", "heading"), [
    ("dana", "/data-quality", "Data quality"),
    ("otto", "/users", "Users"),
    ("audrey", "/", "Welcome, audrey"),
    ("otto", "/", "Welcome, otto"),
])
def test_role_pages(page: Any, shoot: Any, username: str, path: str, heading: str) -> None:
    sign_in(page, username)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_labelled(page)
    shoot(page, "page")


def test_other_role_page_is_refused(page: Any, shoot: Any) -> None:
    sign_in(page, "sam")
    response = page.goto("/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    shoot(page, "forbidden")


def test_sign_out(page: Any, shoot: Any) -> None:
    sign_in(page, "sam")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    shoot(page, "signed-out")
    page.goto("/students")
    expect(page).to_have_url(re.compile(r"/login\?next="))
