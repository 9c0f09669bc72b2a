"""Browser checks of issue 15 items 5 and 6 (kept small): a report page draws its chart
with a table beside it and offers CSV; an operator resets a password and its holder is
sent to change it before anything else."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, RunningNode, _cli
from tests.browser.test_pages import assert_labelled, sign_in

pytestmark = pytest.mark.browser


def test_child_count_report_has_chart_table_and_csv(page: Any, shoot: Any) -> None:
    sign_in(page, "dana")
    page.goto("/reports/child-count")
    expect(page.get_by_role("heading", level=1)).to_have_text("Child count")
    expect(page.get_by_role("img", name="Child count by performance period")).to_be_visible()
    expect(page.get_by_role("table", name="Child count by performance period")).to_be_visible()
    expect(page.get_by_role("link", name="Download this table as CSV")).to_be_visible()
    shoot(page, "child-count")


def test_reset_password_forces_a_change(page: Any, node: RunningNode, shoot: Any) -> None:
    pw = node.config.parent.parent / "password.txt"
    _cli("users", "add", "-c", str(node.config), "lupe", "--role", "staff",
         "--password-file", str(pw), "--full-name", "Lupe Garza", "--school", "Edinburg CISD",
         cwd=node.config.parent.parent)
    sign_in(page, "otto")
    page.goto("/users")
    page.locator("tr", has_text="lupe").get_by_role("button", name="Reset password").click()
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert temporary
    page.get_by_role("button", name="Sign out").click()
    page.goto("/login")
    page.get_by_label("Username").fill("lupe")
    page.get_by_label("Password").fill(temporary)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    page.goto("/students")
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    assert_labelled(page)
    page.get_by_label("Current password").fill(temporary)
    page.get_by_label("New password", exact=True).fill(PASSWORD + " again")
    page.get_by_label("New password again").fill(PASSWORD + " again")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, lupe")
    shoot(page, "changed")
