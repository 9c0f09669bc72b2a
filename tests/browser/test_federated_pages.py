"""The federated pages in a real headless Chromium against a real federation.

A directory and three node processes (TX, CA, FL; tests/integration/harness.py), users
added with `statenode users add`. From FL: search a child held by TX and CA and see
both, outcomes in words; search by a student id; the demo's example searches on the
home page; open the consolidated record and check credit totals and alerts taken from
an older enrollment; send a move notice (its contact with FL's phone and email) and
work it in TX's arrivals queue (acknowledge, assign, mark handled, filter); resolve a
near match (staff ask for a check with one click, an administrator confirms, a second
administrator validates on the page comparing both records, then CA's administrator
compares and accepts the link); an auditor in CA sees FL's fetch in the child's
disclosure history, and FL's auditor sees the recorded view; the exchange log,
checkpoints with a verification, and the operator's status page. Every page is saved
under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from node.federation.federated_find import NEED_NAMES
from tests.browser.conftest import PASSWORD, browser_page
from tests.browser.page_checks import LANGUAGES, LIVE_REGIONS_JS, check_page
from tests.browser.test_pages import assert_labelled, focused
from tests.integration.harness import GUADALUPE_CA, GUADALUPE_TX, Federation, child

pytestmark = pytest.mark.browser

CHUY_CA = child("CA700002", "Chuy", "Ramírez", "", "2010-07-05", "M", mother=("Rosa", "Soto"))
#: CA's Guadalupe with an older enrollment as an English learner (the latest is not)
GUADALUPE_CA_OLDER = {**GUADALUPE_CA, "enrollments": [
    *GUADALUPE_CA["enrollments"],
    {"enrollment_id": "E0", "enrollment_date": "2022-08-15", "withdrawal_date": "2023-05-30",
     "enrollment_type": "basic_school", "school_or_project_name": "Fresno Middle School",
     "grade_level": "08", "english_learner": True, "courses": []}]}
# Searched with a birth date two keystrokes from CHUY_CA's: nickname and surname agree, the
# date does not, so the evidence is not enough for a `match` (issue 13) and a data
# administrator decides.
NEAR_DATE = "2010-09-15"
USERS = {"FL": {"staff": "staff", "data_admin": "data_admin", "data_admin2": "data_admin",
                "auditor": "auditor", "operator": "operator"},
         "TX": {"staff": "staff"},
         "CA": {"data_admin": "data_admin", "auditor": "auditor"}}


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root: Path = tmp_path_factory.mktemp("web-fed")
    federation = Federation(root, ["TX", "CA", "FL"], background=25,
                            extra_records={"TX": [GUADALUPE_TX],
                                           "CA": [GUADALUPE_CA_OLDER, CHUY_CA]})
    federation.create()
    fl = federation.config("FL")  # FL's contact for move notices; the demo's examples
    fl.write_text(fl.read_text().replace('id = "FL"\n', 'id = "FL"\ncontact_phone = '
                                         '"+1 555 0100"\ncontact_email = "records@fl.example"\n')
                  + "\n[web]\ndemo_examples = true\n")
    password_file = root / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    for state, users in USERS.items():
        for username, role in users.items():
            federation.cli("users", "add", "-c", str(federation.config(state)), username,
                           "--role", role, "--password-file", str(password_file))
    try:
        federation.start()
        yield federation
    finally:
        federation.stop()


@pytest.fixture
def web(browser: Any) -> Iterator[Any]:
    with browser_page(browser, 15_000) as page:
        yield page


def sign_in(page: Any, fed: Federation, state: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(fed.nodes[state].url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {username}")


def nav(page: Any, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()


def search_js_ready(page: Any) -> None:
    """Wait until the deferred search.js has attached its handlers (else, on a loaded
    machine, Enter or a click submits the form without it: the no-script results page)."""
    expect(page.locator("#search-form")).to_have_attribute("data-ready", "yes")


def search(page: Any, first: str, last1: str, birth: str, *, last2: str = "",
           purpose: str = "Enrollment") -> None:
    """Fill the search form with the keyboard only and submit it with Enter."""
    nav(page, "Search all states")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search all states")
    search_js_ready(page)
    assert_labelled(page)
    page.get_by_label("Given name", exact=True).focus()
    page.keyboard.type(first)
    page.keyboard.press("Tab")
    assert focused(page) == "s-middle_name"
    page.keyboard.press("Tab")
    page.keyboard.type(last1)
    page.keyboard.press("Tab")
    page.keyboard.type(last2)
    page.get_by_label("Birth date").fill(birth)
    page.get_by_label("Purpose of use").select_option(label=purpose)
    page.get_by_label("Given name", exact=True).press("Enter")
    expect(page.locator("#search-status")).to_contain_text(re.compile(r"states? answered"),
                                                           timeout=20_000)


def test_search_sees_the_child_in_two_other_states(fed: Federation, web: Any,
                                                   shoot: Any) -> None:
    sign_in(web, fed, "FL", "staff")
    search(web, "Guadalupe", "Hernández", "2009-03-04", last2="López")
    status = web.locator("#search-status")
    expect(status).to_contain_text("2 states answered: ")
    for state, name in (("TX", "Guadalupe Hernández López"), ("CA", "Lupe Hernandez")):
        section = web.locator(f"section.state-result[data-state='{state}']")
        expect(section.get_by_role("link", name=name)).to_be_visible()
        expect(section.locator(".tag.outcome-match")).to_contain_text(
            re.compile(r"^almost certainly this child \(\d+\.\d%\)$"))
    expect(web.locator("section.state-result[data-state='CA']")).to_contain_text(
        "given name: nickname")
    # words, not raw scores, for school staff
    expect(web.get_by_role("columnheader", name="Score")).to_have_count(0)
    expect(web.locator("section.state-result[data-state='FL']")).to_contain_text(
        "No record of this child")
    # issue 14: both holders got the details (discover hits), from the summary's disclosure
    expect(web.locator("#search-disclosure")).to_have_text(
        "Your search's details went to 2 of 2 states.")
    expect(web.locator("#search-names-only")).to_contain_text(
        "reaches every state where a child of that name is found")
    shoot(web, "search-results")


def test_search_by_a_student_id_and_the_demo_examples(fed: Federation, web: Any,
                                                      shoot: Any) -> None:
    sign_in(web, fed, "FL", "staff")
    examples = web.locator("#examples")  # FL is a demo node here (web.demo_examples)
    expect(examples.get_by_role("link")).to_have_count(2)
    examples.get_by_role("link", name=re.compile("Guadalupe")).click()
    expect(web.get_by_label("Given name", exact=True)).to_have_value("Guadalupe")
    expect(web.get_by_label("Birth date")).to_have_value("2009-03-04")
    search_js_ready(web)
    web.get_by_label("Given name", exact=True).fill("")
    web.get_by_label("First surname").fill("")
    web.get_by_label("Student id from any state").fill("tx900001")
    web.get_by_role("button", name="Search all states").click()
    expect(web.locator("#search-status")).to_contain_text("states answered", timeout=20_000)
    tx = web.locator("section.state-result[data-state='TX']")
    expect(tx.get_by_role("link", name="Guadalupe Hernández López")).to_be_visible()
    expect(tx).to_contain_text("almost certainly this child")
    expect(tx).to_contain_text("student id: same")
    expect(web.locator("section.state-result[data-state='CA']")).to_contain_text(
        "No record of this child")
    shoot(web, "search-by-student-id")


def test_search_asks_for_the_required_fields(fed: Federation, web: Any) -> None:
    sign_in(web, fed, "FL", "staff")
    nav(web, "Search all states")
    search_js_ready(web)
    web.get_by_role("button", name="Search all states").click()
    expect(web.get_by_role("alert")).to_have_text(NEED_NAMES)
    assert focused(web) == "s-first_name"


def test_search_works_without_javascript(fed: Federation, browser: Any, shoot: Any) -> None:
    """A plain form post: the whole answer on one page, then the consolidated record."""
    with browser_page(browser, 20_000, java_script_enabled=False) as page:
        sign_in(page, fed, "FL", "staff")
        nav(page, "Search all states")
        page.get_by_role("button", name="Search all states").click()  # nothing filled in
        expect(page.get_by_role("alert")).to_have_text(NEED_NAMES)
        page.get_by_label("Given name", exact=True).fill("Guadalupe")
        page.get_by_label("First surname").fill("Hernández")
        page.get_by_label("Second surname").fill("López")
        page.get_by_label("Birth date").fill("2009-03-04")
        page.get_by_label("Purpose of use").select_option(label="Enrollment")
        page.get_by_role("button", name="Search all states").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Search results")
        expect(page.get_by_role("status")).to_contain_text("2 states answered")
        for state, name in (("TX", "Guadalupe Hernández López"), ("CA", "Lupe Hernandez")):
            section = page.locator(f"section.state-result[data-state='{state}']")
            expect(section.get_by_role("link", name=name)).to_be_visible()
            expect(section.locator(".tag.outcome-match")).to_contain_text(
                "almost certainly this child (")
        expect(page.get_by_role("columnheader", name="Score")).to_have_count(0)
        expect(page.get_by_label("Include Lupe Hernandez (CA)")).to_be_checked()
        assert_labelled(page)
        shoot(page, "search-results-without-javascript")
        page.get_by_role("button", name="Open consolidated record of the ticked records").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Guadalupe Hernández López")
        expect(page.locator("#provenance").get_by_text("verified", exact=True)).to_have_count(2)


def test_consolidated_record_with_credit_totals_and_print_view(fed: Federation, web: Any,
                                                               shoot: Any) -> None:
    sign_in(web, fed, "FL", "staff")
    search(web, "Guadalupe", "Hernández", "2009-03-04", last2="López")
    expect(web.get_by_label("Include Lupe Hernandez (CA)")).to_be_checked()
    web.get_by_role("button", name="Open consolidated record of the ticked records").click()
    expect(web.get_by_role("heading", level=1)).to_have_text("Guadalupe Hernández López")
    alerts = web.get_by_role("list", name="Alerts")
    expect(alerts).to_contain_text("Medical alert: chronic — TX, 2024; CA, 2024")
    expect(alerts).to_contain_text("Immunization record on file — TX, 2024; CA, 2024")
    # from an older enrollment: CA's latest does not say English learner, 2022–23 did
    expect(alerts).to_contain_text("English learner — CA, 2023")
    expect(alerts).to_contain_text("MEP eligibility until 2027-08-01")
    totals = web.locator("#credit-totals")
    expect(totals.get_by_role("row", name=re.compile("^Mathematics"))).to_contain_text(
        "2.00")
    expect(totals.get_by_role("row", name=re.compile("^Mathematics"))).to_contain_text(
        "1.50")
    expect(web.locator("#total-attempted")).to_have_text("4.00")
    expect(web.locator("#total-granted")).to_have_text("3.50")
    in_progress = web.get_by_role("table", name="Courses in progress")
    expect(in_progress).to_contain_text("Biology")
    provenance = web.locator("#provenance")
    expect(provenance.get_by_text("verified", exact=True)).to_have_count(2)
    expect(web.locator("article.consolidated .timeline > li")).to_have_count(3)
    shoot(web, "consolidated-record")
    web.emulate_media(media="print")
    expect(web.get_by_role("navigation", name="Main")).to_be_hidden()
    shoot(web, "consolidated-record-print")
    web.emulate_media(media="screen")


def test_move_notice_reaches_the_other_states_arrivals_queue(fed: Federation, web: Any,
                                                             shoot: Any) -> None:
    sign_in(web, fed, "FL", "staff")
    search(web, "Guadalupe", "Hernández", "2009-03-04", last2="López")
    web.get_by_role("link", name="Guadalupe Hernández López").click()
    expect(web.get_by_role("heading", level=1)).to_have_text("Guadalupe Hernández López")
    web.get_by_label("Moving to state").select_option("TX")
    web.get_by_label("Expected arrival").fill("2031-09-01")
    web.get_by_label("Destination (town, school or project)").fill("Lincoln High, Pharr TX")
    expect(web.get_by_label("Contact for questions")).to_have_value(
        "staff, FL MEP, +1 555 0100, records@fl.example")
    web.get_by_label("Comment").fill("Family moving for the onion harvest.")
    assert_labelled(web)
    web.get_by_role("button", name="Send move notice").click()
    expect(web.get_by_role("heading", level=1)).to_have_text("Move notices sent")
    row = web.locator("#outbox tbody tr").first
    expect(row).to_contain_text("Guadalupe Hernández López")
    expect(row).to_contain_text("delivered")
    shoot(web, "outbox")

    sign_in(web, fed, "TX", "staff")
    nav(web, "Arrivals")
    inbox = web.locator("#inbox")
    notice = inbox.locator("tbody tr").filter(has_text="Guadalupe Hernández López")
    expect(notice).to_contain_text("2031-09-01")
    expect(notice).to_contain_text("Lincoln High, Pharr TX")
    expect(notice).to_contain_text("+1 555 0100, records@fl.example")
    expect(notice.get_by_role("link", name="Search for Guadalupe")).to_be_visible()
    expect(notice.locator(".tag")).to_have_text("new")
    assert_labelled(web)
    shoot(web, "arrivals-new")
    notice.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(web.get_by_role("status")).to_have_text("Acknowledged.")
    notice = web.locator("#inbox tbody tr").filter(has_text="Guadalupe Hernández López")
    expect(notice).to_contain_text("acknowledged by staff")
    expect(notice.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    notice.get_by_label(re.compile("^Assign the notice")).select_option("staff")
    notice.get_by_role("button", name=re.compile("^Assign")).click()
    notice = web.locator("#inbox tbody tr").filter(has_text="Guadalupe Hernández López")
    expect(notice).to_contain_text("assigned to staff by staff")
    notice.get_by_label(re.compile("^Note on the notice")).fill("enrolled in grade 11")
    notice.get_by_role("button", name=re.compile("^Mark handled")).click()
    expect(web.get_by_role("status")).to_have_text("Marked handled.")
    # handled: gone from the open notices, found under Handled with who and when
    expect(web.locator("#inbox tbody tr").filter(has_text="Guadalupe")).to_have_count(0)
    filters = web.get_by_role("navigation", name="Filter by status")
    expect(filters.get_by_role("link", name="Open (0)")).to_have_attribute(
        "aria-current", "page")
    filters.get_by_role("link", name="Handled (1)").click()
    notice = web.locator("#inbox tbody tr").filter(has_text="Guadalupe Hernández López")
    expect(notice).to_contain_text("handled by staff")
    expect(notice).to_contain_text("enrolled in grade 11")
    expect(notice.get_by_role("button")).to_have_count(0)
    shoot(web, "arrivals-handled")


def test_resolve_a_near_match(fed: Federation, web: Any, shoot: Any) -> None:
    sign_in(web, fed, "FL", "staff")  # a broad search (no birth date) queues nothing...
    search(web, "Jesus", "Ramirez", "")
    ca = web.locator("section.state-result[data-state='CA']")
    row = ca.locator("tbody tr").filter(has_text="Chuy")
    expect(row.locator(".tag.outcome-near_match")).to_have_text("possibly this child")
    expect(row.get_by_text("Near match: opens once a data administrator")).to_be_visible()
    expect(row.get_by_role("checkbox")).to_be_disabled()
    expect(row.get_by_role("link", name=re.compile("Chuy"))).to_have_count(0)
    expect(row.get_by_text("on the worklist")).to_have_count(0)
    shoot(web, "near-match-held")
    # ...until staff ask, with one click
    row.get_by_role("button", name=re.compile("^Ask a data administrator to check this "
                                              "record")).click()
    expect(row.get_by_role("status")).to_have_text(
        "Asked: a data administrator will check this record.")
    shoot(web, "near-match-asked")

    sign_in(web, fed, "FL", "data_admin")
    # By name only again: with NEAR_DATE (two keystrokes from CA's date, no parents) the
    # discover round of issue 14 finds no key of CA's child, so CA never receives the
    # criteria; that is the measured recall limit of discover (docs/SECURITY.md)
    search(web, "Jesus", "Ramirez", "")
    ca = web.locator("section.state-result[data-state='CA']")
    expect(ca.get_by_text("possibly this child", exact=True)).to_be_visible()
    expect(ca.get_by_text("on the worklist")).to_be_visible()  # the same item, not twice
    expect(web.get_by_role("columnheader", name="Score").first).to_be_visible()  # admins
    nav(web, "Near matches")
    worklist = web.locator("#worklist")
    expect(worklist.locator("tbody tr")).to_have_count(1)
    expect(worklist).to_contain_text("Chuy Ramírez")
    expect(worklist.locator("tbody tr").first).to_contain_text("staff")  # who asked
    expect(worklist.locator("tbody tr").first).to_contain_text(
        re.compile(r"just now|\d+ minutes?"))
    shoot(web, "worklist")
    web.get_by_role("link", name=re.compile("Compare and decide")).first.click()
    table = web.locator("#comparison")
    expect(table.get_by_role("row", name=re.compile("^Given names"))).to_contain_text(
        "nickname")
    expect(table.get_by_role("row", name=re.compile("^Birth date"))).to_contain_text(
        "2010-07-05")
    expect(web.locator("#outcome-words")).to_have_text("possibly this child")
    assert_labelled(web)
    shoot(web, "worklist-item")
    web.get_by_label("Why (for the second administrator)").fill("Chuy is Jesús; same mother.")
    web.get_by_role("button", name="Confirm: same child").click()
    expect(web.get_by_role("status")).to_contain_text("Another data administrator must")
    waiting = web.locator("#links-waiting")
    expect(waiting).to_contain_text("You confirmed it")
    waiting.get_by_role("link", name=re.compile("See the comparison")).click()
    expect(web.get_by_role("button", name="Validate: same child")).to_have_count(0)

    # the second administrator sees the child, both records side by side, then validates
    sign_in(web, fed, "FL", "data_admin2")
    nav(web, "Links")
    web.locator("#links-waiting").get_by_role("link", name=re.compile(
        "Compare and decide")).click()
    expect(web.get_by_role("heading", level=1)).to_contain_text("is this the same child?")
    table = web.locator("#comparison")
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Field", "Searched for in FL", "CA's record", "Agreement"])
    given = table.get_by_role("row", name=re.compile("^Given names"))
    expect(given).to_contain_text("Jesus")
    expect(given).to_contain_text("Chuy")
    expect(given).to_contain_text("nickname")
    birth = table.get_by_role("row", name=re.compile("^Birth date"))  # staff had none
    expect(birth).to_contain_text("2010-07-05")
    expect(birth).to_contain_text("not compared")
    expect(web.locator("#outcome-words")).to_have_text("possibly this child")
    expect(web.get_by_text("Chuy is Jesús; same mother.")).to_be_visible()
    assert_labelled(web)
    shoot(web, "link-second-administrator")
    web.get_by_role("button", name="Validate: same child").click()
    expect(web.get_by_role("status")).to_have_text("Link validated; it is now active.")
    expect(web.locator("#links-other")).to_contain_text("active")
    shoot(web, "links-validated")

    # CA's administrator compares its own record with the child as FL describes it
    sign_in(web, fed, "CA", "data_admin")
    nav(web, "Links")
    waiting = web.locator("#links-waiting")
    expect(waiting).to_contain_text("From FL")
    expect(waiting).to_contain_text("Chuy is Jesús; same mother.")  # the note is not shown
    expect(waiting).not_to_contain_text("[statenode child]")
    waiting.get_by_role("link", name=re.compile("Compare and decide")).click()
    table = web.locator("#comparison")
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Field", "The child as FL knows it", "CA's record (ours)", "Agreement"])
    given = table.get_by_role("row", name=re.compile("^Given names"))
    expect(given).to_contain_text("Jesus")
    expect(given).to_contain_text("Chuy")
    expect(given).to_contain_text("nickname")
    expect(table.get_by_role("row", name=re.compile("^Student id"))).to_contain_text(
        "CA700002")
    expect(web.locator("#outcome-words")).to_contain_text("this child")
    shoot(web, "link-other-state")
    web.get_by_role("button", name="Validate: same child").click()
    expect(web.locator("#links-other")).to_contain_text("active")
    shoot(web, "links-accepted-by-peer")

    sign_in(web, fed, "FL", "staff")  # linked: staff may now open CA's record
    search(web, "Jesus", "Ramirez", NEAR_DATE)
    ca = web.locator("section.state-result[data-state='CA']")
    expect(ca.get_by_text("linked", exact=True)).to_be_visible()
    ca.get_by_role("link", name=re.compile("Chuy")).click()
    expect(web.get_by_role("heading", level=1)).to_contain_text("Ram")
    expect(web.locator("body")).not_to_contain_text("refused")


def test_auditors_see_the_disclosure(fed: Federation, web: Any, shoot: Any) -> None:
    sign_in(web, fed, "FL", "staff")  # FL's staff searches and opens CA's record
    search(web, "Guadalupe", "Hernández", "2009-03-04", last2="López")
    web.get_by_role("link", name="Lupe Hernandez").click()
    expect(web.get_by_role("heading", level=1)).to_have_text("Lupe Hernandez")

    sign_in(web, fed, "CA", "auditor")
    nav(web, "Disclosure history")
    web.get_by_label("State student id").fill("CA700001")
    web.get_by_label("State student id").press("Enter")
    disclosures = web.locator("#disclosures")
    row = disclosures.locator("tbody tr").filter(has_text="full record")
    expect(row.first).to_contain_text("FL")
    expect(row.first).to_contain_text("staff")
    expect(row.first).to_contain_text("enrollment")
    shoot(web, "disclosure-history-holder")

    sign_in(web, fed, "FL", "auditor")
    nav(web, "Disclosure history")
    web.get_by_label("State student id").fill("CA700001")
    web.get_by_role("button", name="Show history").click()
    views = web.locator("#views tbody tr").filter(
        has=web.get_by_role("cell", name="record", exact=True))
    expect(views.first).to_contain_text("staff")
    expect(views.first).to_contain_text("enrollment")
    expect(views.first).to_contain_text("CA")
    shoot(web, "disclosure-history-requester")

    nav(web, "Exchange log")
    expect(web.locator("#log")).to_contain_text("record request")  # a fetch, said in words
    shoot(web, "exchange-log")
    nav(web, "Checkpoints")
    web.get_by_role("button", name="Verify now").click()
    expect(web.locator("#verify-result")).to_contain_text("Verified")
    shoot(web, "checkpoints")


def test_operator_status_page(fed: Federation, web: Any, shoot: Any) -> None:
    sign_in(web, fed, "FL", "operator")
    nav(web, "Node status")
    peers = web.locator("#peers")
    for state in ("TX", "CA"):
        expect(peers.get_by_role("row", name=re.compile(f"^{state}"))).to_contain_text("ok")
    expect(web.locator("#jobs")).to_contain_text("outbox")
    expect(web.locator("#keys")).to_contain_text("current")
    shoot(web, "node-status")


WELCOME = {"en": "Welcome, {}", "es": "Bienvenido, {}"}
SIGN_IN = {"en": "Sign in", "es": "Iniciar sesión"}
ANSWERED = {"en": "states answered", "es": "estados"}


def sign_in_as(page: Any, fed: Federation, state: str, username: str, lang: str) -> str:
    page.context.clear_cookies()
    url = fed.nodes[state].url
    page.goto(url + "/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=SIGN_IN[lang], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(WELCOME[lang].format(username))
    return str(url)


def search_guadalupe(page: Any, url: str, lang: str) -> None:
    page.goto(url + "/search")
    page.locator("#s-first_name").fill("Guadalupe")
    page.locator("#s-last_name_1").fill("Hernández")
    page.locator("#s-last_name_2").fill("López")
    page.locator("#s-birth_date").fill("2009-03-04")
    page.locator("#s-purpose").select_option("enrollment")
    page.locator("#s-first_name").press("Enter")
    expect(page.locator("#search-status")).to_contain_text(ANSWERED[lang], timeout=20_000)


def test_live_regions_announce_once_per_state_and_once_at_the_end(fed: Federation, web: Any,
                                                                   shoot: Any) -> None:
    url = sign_in_as(web, fed, "FL", "staff", "en")
    web.goto(url + "/search")
    web.evaluate(LIVE_REGIONS_JS)
    web.locator("#s-first_name").fill("Guadalupe")
    web.locator("#s-last_name_1").fill("Hernández")
    web.locator("#s-birth_date").fill("2009-03-04")
    web.locator("#s-purpose").select_option("enrollment")
    web.locator("#search-button").click()
    expect(web.locator("#search-status")).to_contain_text("states answered", timeout=20_000)
    # focus moves to the results heading once the search is over
    expect(web.locator("#results-title")).to_be_focused()
    announced = web.evaluate("() => window.__announced")
    by_region: dict[str, list[str]] = {}
    for region, text in announced:
        by_region.setdefault(region, []).append(text)
    status = by_region.pop("search-announcer")
    # this node, TX and CA each once as they answer, then the summary once
    assert len(status) == 4, status
    assert len(set(status)) == 4, status
    assert [t.split(":")[0] for t in status[:3]].count("This node") == 1
    assert {"TX", "CA"} <= {t.split(":")[0] for t in status[:3]}
    assert status[-1].startswith("2 states answered: "), status
    assert by_region == {}, f"other live regions spoke during a search: {by_region}"
    shoot(web, "search-announced")


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_federated_pages_in_both_languages(fed: Federation, browser: Any, shoot: Any,
                                           lang: str) -> None:
    problems: list[str] = []
    with browser_page(browser, 15_000, locale=LANGUAGES[lang]) as page:
        url = sign_in_as(page, fed, "FL", "staff", lang)
        page.goto(url + "/search")
        problems += check_page(page, shoot, "search-form", lang)
        search_guadalupe(page, url, lang)
        expect(page.locator("#search-disclosure")).to_contain_text(
            {"en": "Your search's details went to 2 of 2",
             "es": "Los datos de su búsqueda llegaron a 2 de 2"}[lang])
        problems += check_page(page, shoot, "search-results", lang)
        page.locator("#open-record").click()
        expect(page.locator("#child-name")).to_have_text("Guadalupe Hernández López")
        problems += check_page(page, shoot, "consolidated", lang)
        page.emulate_media(media="print")
        shoot(page, f"consolidated-print-{lang}")
        page.emulate_media(media="screen")
        for name, path in (("arrivals", "/moves/inbox?status=all"),
                           ("notices-sent", "/moves/outbox")):
            page.goto(url + path)
            problems += check_page(page, shoot, name, lang)
        tx = sign_in_as(page, fed, "TX", "staff", lang)
        page.goto(tx + "/moves/inbox?status=all")
        problems += check_page(page, shoot, "arrivals-tx", lang)
        url = sign_in_as(page, fed, "FL", "data_admin", lang)
        for name, path in (("worklist", "/worklist"), ("links", "/links")):
            page.goto(url + path)
            problems += check_page(page, shoot, name, lang)
        # a near match and a link, made by test_resolve_a_near_match when the module runs
        for name, path in (("worklist-item", "/worklist/1"), ("link", "/links/1")):
            response = page.goto(url + path)
            if response is not None and response.status == 200:
                problems += check_page(page, shoot, name, lang)
        url = sign_in_as(page, fed, "FL", "auditor", lang)
        for name, path in (("exchange-log", "/audit/log"), ("checkpoints", "/audit"),
                           ("disclosures", "/audit/student?student=FL0")):
            page.goto(url + path)
            problems += check_page(page, shoot, name, lang)
        url = sign_in_as(page, fed, "FL", "operator", lang)
        page.goto(url + "/status")
        problems += check_page(page, shoot, "status", lang)
    assert problems == []


def test_pages_refuse_other_roles(fed: Federation, web: Any) -> None:
    sign_in(web, fed, "FL", "staff")
    for path in ("/worklist", "/links", "/audit", "/audit/log", "/audit/student", "/status",
                 "/audit/v1/alerts"):
        response = web.goto(fed.nodes["FL"].url + path)
        assert response is not None and response.status == 403, path
    sign_in(web, fed, "FL", "auditor")
    response = web.goto(fed.nodes["FL"].url + "/search")
    assert response is not None and response.status == 403


def test_search_names_a_state_that_did_not_answer(fed: Federation, web: Any,
                                                  shoot: Any) -> None:
    # last test of the module: it stops CA
    fed.nodes["CA"].stop()
    sign_in(web, fed, "FL", "staff")
    search(web, "Guadalupe", "Hernández", "2009-03-04", last2="López")
    expect(web.locator("#search-status")).to_contain_text("Did not answer: CA")
    expect(web.locator("#search-status")).to_contain_text("Results may be incomplete")
    ca = web.locator("section.state-result[data-state='CA']")
    expect(ca).to_contain_text("Did not answer")
    expect(web.locator("section.state-result[data-state='TX']").get_by_role(
        "link", name="Guadalupe Hernández López")).to_be_visible()
    shoot(web, "search-partial")
