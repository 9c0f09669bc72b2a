"""Who did it, as a person: "Ana López (ana), Roma ISD" instead of a bare username.

Pages that show who saw a record, who asked for a review, who acknowledged or handled a
move notice and who asserted or validated a link (issue 15 item 6: "disclosure history
names who saw a record") call `name_people` on their rows before rendering: the named
fields of each row that hold a username of this node become that user's full name,
username and school. Fields the page compares (an assignee) are left alone; usernames
of other nodes' users (not in our accounts) are shown as they are. Also a `person`
template filter doing the same for one username, for templates to use.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from aiohttp import web

from node.appkeys import WEB
from node.store import accounts
from node.store.accounts import User
from node.web.site import run_db


def label(user: User) -> str:
    """"Ana López (ana), Roma ISD"; just the username when no other name is known."""
    text = user.username
    if user.full_name and user.full_name != user.username:
        text = f"{user.full_name} ({user.username})"
    return f"{text}, {user.school}" if user.school else text


async def name_people(request: web.Request, rows: Iterable[MutableMapping[str, Any]],
                      *fields: str) -> None:
    """Replace each username in `fields` of `rows` by the person's label (in place)."""
    rows = list(rows)
    if not rows:
        return
    people = await run_db(request, accounts.people)
    for row in rows:
        for f in fields:
            value = row.get(f)
            if isinstance(value, str) and value.lower() in people:
                row[f] = label(people[value.lower()])


def setup(app: web.Application) -> None:
    """The `person` filter: a username's label (needs `people` in the page context)."""
    def person(value: Any, people: dict[str, User] | None = None) -> str:
        text = str(value or "")
        user = (people or {}).get(text.lower())
        return label(user) if user else text

    app[WEB].env.filters.setdefault("person", person)
