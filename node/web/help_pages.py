"""Help: `/help`, one section per page a role can see, and a glossary (all translated).

Every page's header links to its section here (`site.help_anchor`); anyone may read the
help, signed in or not, and `?role=` shows another role's sections.
"""

from __future__ import annotations

from aiohttp import web

from node.store.accounts import ROLE_LABELS
from node.web.i18n import N_
from node.web.site import current_session, render

#: (anchor, title, text, roles): a section per page, in the order of the navigation
SECTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("login", N_("Signing in"),
     N_("Sign in with the username and password your operator gave you. After several "
        "wrong attempts the sign-in waits a little; an idle session ends by itself."),
     ("", "staff", "data_admin", "auditor", "operator")),
    ("home", N_("Home"),
     N_("What this node holds and, for school staff and data administrators, a quick "
        "search of this node's own students."),
     ("staff", "data_admin", "auditor", "operator")),
    ("students", N_("Find a student on this node"),
     N_("Search this state's own records by name or state student id. Choose a purpose "
        "of use: opening a record is recorded with your name, role and purpose."),
     ("staff", "data_admin")),
    ("search", N_("Search all states"),
     N_("Ask every state's node at once for an arriving child. Give the given name and "
        "first surname, or a student id from any state; a birth date makes the answer "
        "surer. Answers appear as each state replies, and states that did not answer are "
        "named. Tick the records that are this child and open the consolidated record."),
     ("staff", "data_admin")),
    ("record", N_("The consolidated record"),
     N_("Enrollments, qualifying moves, courses with credit totals, assessments and alerts "
        "from every state that holds the child. Print it for the receiving school; the "
        "print view can be printed in Spanish for the family."),
     ("staff", "data_admin")),
    ("moves-inbox", N_("Arrivals"),
     N_("Move notices other states sent about children coming here. Acknowledge a "
        "notice, assign it to someone and mark it handled once the child is enrolled."),
     ("staff", "data_admin")),
    ("moves-outbox", N_("Notices sent"),
     N_("Move notices this node sent to other states and whether they were delivered."),
     ("staff", "data_admin")),
    ("worklist", N_("Near matches"),
     N_("Records other states returned as near matches. Compare them field by field and "
        "decide: same child or a different child. A confirmed near match becomes a link "
        "only after a second data administrator validates it (the two-person rule)."),
     ("data_admin",)),
    ("links", N_("Links between states"),
     N_("Links waiting for the second administrator's validation, and links the other "
        "state has to accept."),
     ("data_admin",)),
    ("data-quality", N_("Data quality"),
     N_("How complete the required elements of this node's records are, and the rows "
        "the last imports rejected, with the line and the field."),
     ("data_admin",)),
    ("audit-student", N_("Disclosure history"),
     N_("Who received or saw a child's data, when and for what purpose."),
     ("auditor",)),
    ("audit-log", N_("Exchange log"),
     N_("Every exchange with another state, newest first, as this node signed it."),
     ("auditor",)),
    ("audit", N_("Checkpoints"),
     N_("Signed checkpoints of the exchange log, cosigned by other states; verify the "
        "whole log from here."),
     ("auditor",)),
    ("users", N_("Users"),
     N_("Add people who may use this node, give them a role, disable or deactivate "
        "them."),
     ("operator",)),
    ("status", N_("Node status"),
     N_("Directory, peers, keys and scheduled jobs of this node, and what went wrong "
        "last."),
     ("operator",)),
    ("errors", N_("When a page says something went wrong"),
     N_("Not found: the address is wrong or the record is gone. Not allowed: the page is "
        "for another role. Something went wrong: the node logged an error; try again or "
        "tell your operator. Every error page has a link back."),
     ("", "staff", "data_admin", "auditor", "operator")),
)

#: (anchor, term, definition)
GLOSSARY: tuple[tuple[str, str, str], ...] = (
    ("match", N_("Match"),
     N_("A record that is almost certainly the child searched for: names, birth date and "
        "other details agree. It opens at once.")),
    ("near-match", N_("Near match"),
     N_("A record that is possibly the child: some details agree, others differ. It may "
        "be a brother, a sister or a twin, so a data administrator checks it before it "
        "opens.")),
    ("purpose-of-use", N_("Purpose of use"),
     N_("Why you open a record (enrollment, placement, credit accrual, …). It is required, "
        "recorded with your name and sent to the state that holds the record, which "
        "releases only what the purpose needs.")),
    ("qad", N_("Qualifying arrival date (QAD)"),
     N_("The date the child arrived after a qualifying move with a migratory worker. "
        "Migrant program eligibility starts on that day and lasts 36 months.")),
    ("pfs", N_("Priority for services"),
     N_("A migrant child who is failing or at risk of failing, and whose schooling a "
        "move interrupted in the school year; served first by the migrant program.")),
    ("two-person-rule", N_("Two-person rule"),
     N_("A link between two states' records needs two data administrators: one confirms "
        "the near match, a second one validates it. Nobody links records alone.")),
)


async def help_page(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    role = request.query.get("role", session.user.role if session else "")
    if role not in ROLE_LABELS:
        role = ""
    sections = [s for s in SECTIONS if role in s[3] or (not role and "" in s[3])]
    if not role:  # not signed in: every section, so the page says what each role does
        sections = list(SECTIONS)
    return render(request, "help.html", {
        "sections": sections, "glossary": GLOSSARY, "help_role": role,
        "role_labels": ROLE_LABELS}, title=N_("Help"), help_section="top")


def setup(app: web.Application) -> None:
    app.router.add_get("/help", help_page)
