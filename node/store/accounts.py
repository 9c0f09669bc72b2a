"""Web UI accounts: users and roles, login throttling, server-side sessions, student views.

Owns the `statenode.accounts` migration set (tables `users`, `login_failures`,
`login_addresses`, `sessions`, `student_views`, `account_events`) and every rule about
them (DESIGN.md "Web UI"; MSIX.md §1.3 "disable vs deactivate"; FERPA §99.32 / IDEA
§300.614 record of access):

- roles are `staff`, `data_admin`, `auditor`, `operator`;
- *disable* is temporary (enable undoes it), *deactivate* is permanent and keeps the
  row, so the name can never be reused and history still names the user;
- passwords have at least 12 characters and are not on the shipped list of commonly used
  or compromised passwords (node/store/data/common-passwords.txt.gz, NIST SP 800-63B-4
  §3.1.1.2), nor contain the username or the service's name; hashing happens in
  `crypto.passwords` (callers pass the PHC string; the web layer hashes off the event loop);
- throttling, persisted, never locks out an account's correct password because of other
  accounts' failures: it locks an (account, address) pair, only slows an address down,
  and after many failures across addresses refuses an account only from addresses it
  has never signed in from (see "login throttling" below);
- a session token is 32 random bytes shown once to the browser; only its SHA-256 is
  stored; sessions end after an idle timeout and after an absolute lifetime;
- `record_view` writes one `student_views` row per student shown to a user;
- users are people: full name (the username until one is given), school or district,
  e-mail and phone, each checked with a message naming the field; an operator's password
  reset sets a temporary password that must be changed at the next sign-in, and it, role
  changes and profile changes are written to `account_events` (never a password).

Every function takes a `sqlite_utils.Database` and is meant to run on the store's
writer thread (`await store.run(fn, ...)`) or from the CLI.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.resources
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from node import clock
from node.errors import BadRequest, Conflict, NotFound

ROLES = ("staff", "data_admin", "auditor", "operator")
ROLE_LABELS = {
    "staff": "School staff",
    "data_admin": "Data administrator",
    "auditor": "Auditor",
    "operator": "Operator",
}
STATUSES = ("active", "disabled", "deactivated")
PURPOSES = ("enrollment", "placement", "credit_accrual", "mep_services", "move_notice",
            "data_quality")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
SESSION_ABSOLUTE_LIFETIME = 12 * 3600.0
# login throttling (see "login throttling" below; docs/SECURITY.md "Hardening (issue 12)")
ACCOUNT_FAILURE_FACTOR = 20  # account-wide: this many times `max_failures` (100 by default)
ACCOUNT_FAILURE_WINDOW = 86400.0  # account-wide failures are forgotten after a quiet day
DELAY_BASE = 0.25  # seconds: the first slow-down once an address or account has failed a lot
DELAY_MAX = 3.0  # seconds: the slow-down never grows beyond this
KNOWN_ADDRESS_LIFETIME = 90 * 86400.0  # an address stays "known" to an account this long
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

migrations = Migrations("statenode.accounts")


@migrations()
def m001_accounts(db: Database) -> None:
    db.table("users").create(
        {"id": int, "username": str, "role": str, "password_hash": str, "status": str,
         "created_at": float, "status_changed_at": float, "last_login_at": float},
        pk="id", not_null=["username", "role", "password_hash", "status", "created_at"],
    )
    db.table("users").create_index(["username"], unique=True)
    db.table("login_failures").create(
        {"key": str, "failures": int, "last_failure_at": float, "locked_until": float},
        pk="key", not_null=["failures"],
    )
    db.table("sessions").create(
        {"token_hash": str, "user_id": int, "csrf_token": str, "created_at": float,
         "last_seen_at": float, "client": str},
        pk="token_hash", not_null=["user_id", "csrf_token", "created_at", "last_seen_at"],
        foreign_keys=[("user_id", "users", "id")],
    )
    db.table("student_views").create(
        {"id": int, "at": float, "username": str, "role": str, "purpose": str,
         "student_id": str, "source_state": str, "what": str},
        pk="id", not_null=["at", "username", "role", "purpose", "student_id", "source_state"],
    )
    db.table("student_views").create_index(["student_id"])


@migrations()
def m002_login_addresses(db: Database) -> None:
    """Addresses each account signed in from (login throttling spares them)."""
    db.table("login_addresses").create(
        {"key": str, "last_success_at": float}, pk="key", not_null=["last_success_at"])


@migrations()
def m003_people(db: Database) -> None:
    """Users are people (issue 15 item 6): full name, school or district, e-mail, phone;
    a password an operator reset must be changed at the next sign-in; `account_events`
    records role changes, status changes and password resets (never a password).

    Backfill: every existing user's full name is their username (so history and pages
    that now show full names still name them) and the other fields are empty; nobody is
    asked to change a password they chose themselves."""
    for column in ("full_name", "school", "email", "phone"):
        db.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE users SET full_name = username WHERE full_name = ''")
    db.table("account_events").create(
        {"id": int, "at": float, "actor": str, "username": str, "event": str, "detail": str},
        pk="id", not_null=["at", "actor", "username", "event", "detail"])
    db.table("account_events").create_index(["username"])


def apply_migrations(db: Database) -> None:
    """Create or upgrade the accounts tables (safe to call again)."""
    migrations.apply(db)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    status: str
    created_at: float
    last_login_at: float | None
    full_name: str = ""
    school: str = ""
    email: str = ""
    phone: str = ""
    must_change_password: bool = False

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def display_name(self) -> str:
        """"Full Name (school)" for pages and history; the username if no full name."""
        name = self.full_name or self.username
        return f"{name} ({self.school})" if self.school else name


@dataclass(frozen=True)
class Session:
    token_hash: str
    user: User
    csrf_token: str
    created_at: float
    last_seen_at: float


def _user(row: dict[str, Any], *, created_at: str = "created_at", id_: str = "id") -> User:
    return User(id=row[id_], username=row["username"], role=row["role"], status=row["status"],
                created_at=row[created_at], last_login_at=row.get("last_login_at"),
                full_name=row.get("full_name") or "", school=row.get("school") or "",
                email=row.get("email") or "", phone=row.get("phone") or "",
                must_change_password=bool(row.get("must_change_password")))


# ---- users ------------------------------------------------------------------------------

def check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise BadRequest(
            f"username {username!r} must be 2-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


EMAIL_RE = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
PHONE_RE = re.compile(r"^\+?[0-9 ().-]{7,25}$")
MAX_NAME = 100


def _text(field: str, value: str, limit: int = MAX_NAME) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        raise BadRequest(f"{field}: at most {limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise BadRequest(f"{field}: must not contain control characters")
    return value


def check_email(email: str) -> str:
    email = email.strip()
    if email and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise BadRequest(f"email: {email[:80]!r} is not an e-mail address like "
                         "ana.lopez@district.example.org")
    return email


def check_phone(phone: str) -> str:
    phone = phone.strip()
    if phone and (not PHONE_RE.match(phone) or sum(c.isdigit() for c in phone) < 7):
        raise BadRequest(f"phone: {phone[:40]!r} is not a phone number like +1 512 555 0100 "
                         "(digits, spaces, + ( ) . - only, at least 7 digits)")
    return phone


def check_profile(*, full_name: str | None = None, school: str | None = None,
                  email: str | None = None, phone: str | None = None) -> dict[str, str]:
    """The given profile fields, checked and tidied; BadRequest names the field."""
    out: dict[str, str] = {}
    if full_name is not None:
        out["full_name"] = _text("full name", full_name)
    if school is not None:
        out["school"] = _text("school or district", school)
    if email is not None:
        out["email"] = check_email(email)
    if phone is not None:
        out["phone"] = check_phone(phone)
    return out


#: words tied to this service that no password may contain (NIST SP 800-63B-4 §3.1.1.2
#: "context-specific words"), compared letters and digits only: "State-Node" counts
CONTEXT_WORDS = ("statenode", "msix")
#: words of the service's world that a password may not be, give or take digits and
#: symbols around them ("Migrant2024!" is refused, "migrant worker rights 1962" is not)
CONTEXT_CORES = frozenset({"statenode", "msix", "migrant", "migrants", "student", "students",
                           "school", "schools", "education", "teacher", "mep"})
COMMON_PASSWORDS_MESSAGE = ("this password is on a list of commonly used or compromised "
                            "passwords; choose another")
_MIN_STRIPPED = 5  # a form shorter than this after stripping digits/symbols is not looked up
_NOT_LETTER = re.compile(r"[\W\d_]")  # a digit, symbol, space or underscore
_LEADING = re.compile(r"^[\W\d_]+")
_ENDS = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped blocklist (lower case), read once on first use (30,000 entries)."""
    resource = (importlib.resources.files("node") / "store" / "data"
                / "common-passwords.txt.gz")
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return frozenset(line.strip() for line in text if line.strip())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _blocklist_forms(password: str) -> Iterator[str]:
    """The forms of a password looked up in the blocklist: case-folded, with and without
    spaces, then with trailing digits and symbols stripped one at a time and finally the
    leading ones too (`Password1234!` → `password1234`, `password123`, …, `password`)."""
    folded = _fold(password)
    for form in dict.fromkeys((folded, re.sub(r"\s+", "", folded))):
        yield form
        while form and _NOT_LETTER.match(form[-1]):
            form = form[:-1]
            if len(form) >= _MIN_STRIPPED:
                yield form
        core = _LEADING.sub("", form)
        if core != form and len(core) >= _MIN_STRIPPED:
            yield core


def is_common_password(password: str) -> bool:
    """True if the password, give or take case, spaces and digits or symbols at its ends,
    is on the shipped list of commonly used or compromised passwords."""
    listed = common_passwords()
    return any(form in listed for form in _blocklist_forms(password))


def check_password(password: str, username: str = "") -> None:
    """Raise BadRequest unless the password is acceptable (never echoes it).

    Refused: too short or too long; containing the username (also without its dots and
    dashes, or a part of it of four letters or more: `maria.lopez` → `Lopez1999!`);
    containing the service's name; a word of the service's world with only digits and
    symbols around it; the same few characters; anything on the shipped blocklist
    (`is_common_password`). Each message says why, for the person choosing it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    folded = _fold(password)
    alnum = re.sub(r"[\W_]+", "", folded)
    if username:
        name = _fold(username)
        parts = [p for p in re.split(r"[._@-]+", name) if len(p) >= 4]
        if (name in folded or re.sub(r"[\W_]+", "", name) in alnum
                or any(part in alnum for part in parts)):
            raise BadRequest("the password must not contain the username")
    if any(word in alnum for word in CONTEXT_WORDS) or _ENDS.sub("", folded) in CONTEXT_CORES:
        raise BadRequest("the password must not contain the name of this service (statenode, "
                         "MSIX) nor be a word tied to it (migrant, student, school, …) with "
                         "digits or symbols added")
    if len(set(password)) < 4:
        raise BadRequest("the password must not repeat the same few characters")
    if is_common_password(password):
        raise BadRequest(COMMON_PASSWORDS_MESSAGE)


def add_user(db: Database, username: str, role: str, password_hash: str,
             *, now: float | None = None, full_name: str = "", school: str = "",
             email: str = "", phone: str = "", must_change_password: bool = False) -> User:
    """Insert an active user; Conflict if the name exists (even deactivated). The full
    name defaults to the username."""
    check_username(username)
    check_role(role)
    profile = check_profile(full_name=full_name, school=school, email=email, phone=phone)
    if find_user(db, username) is not None:
        raise Conflict(f"user {username!r} already exists (names of deactivated users "
                       "are never reused)")
    now = clock.now() if now is None else now
    db.table("users").insert({"username": username, "role": role,
                              "password_hash": password_hash, "status": "active",
                              "created_at": now, "status_changed_at": now,
                              "last_login_at": None, **profile,
                              "full_name": profile["full_name"] or username,
                              "must_change_password": int(must_change_password)})
    user = find_user(db, username)
    assert user is not None
    return user


def find_user(db: Database, username: str) -> User | None:
    rows = list(db.query("select * from users where username = ? collate nocase", [username]))
    return _user(rows[0]) if rows else None


def get_user(db: Database, username: str) -> User:
    user = find_user(db, username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def password_hash_of(db: Database, username: str) -> tuple[User, str] | None:
    """The user and their PHC hash, for verification; None if there is no such user."""
    rows = list(db.query("select * from users where username = ? collate nocase", [username]))
    return (_user(rows[0]), rows[0]["password_hash"]) if rows else None


def list_users(db: Database) -> list[User]:
    return [_user(r) for r in db.query("select * from users order by username")]


def set_status(db: Database, username: str, status: str, *, now: float | None = None) -> User:
    """Disable, enable (status `active`) or deactivate a user; ends their sessions."""
    if status not in STATUSES:
        raise BadRequest(f"status {status!r} is not one of {', '.join(STATUSES)}")
    user = get_user(db, username)
    if user.status == "deactivated" and status != "deactivated":
        raise Conflict(f"user {username!r} is deactivated; deactivation is permanent")
    now = clock.now() if now is None else now
    with db.atomic():
        db.table("users").update(user.id, {"status": status, "status_changed_at": now})
        if status != "active":
            db.execute("delete from sessions where user_id = ?", [user.id])
    return get_user(db, username)


def set_password(db: Database, username: str, password_hash: str, *,
                 keep_session: str = "", chosen: bool = False) -> None:
    """A new hash: ends the user's sessions (but `keep_session`, the token hash of the
    one they changed it from). `chosen`: the user chose this password, which lifts a
    forced change (a rehash at sign-in does not)."""
    user = get_user(db, username)
    change: dict[str, Any] = {"password_hash": password_hash}
    if chosen:
        change["must_change_password"] = 0
    with db.atomic():
        db.table("users").update(user.id, change)
        db.execute("delete from sessions where user_id = ? and token_hash != ?",
                   [user.id, keep_session])


def log_event(db: Database, actor: str, username: str, event: str, detail: str = "",
              *, now: float | None = None) -> None:
    db.table("account_events").insert({"at": clock.now() if now is None else now,
                                       "actor": actor, "username": username,
                                       "event": event, "detail": detail})


def events_of(db: Database, username: str) -> list[dict[str, Any]]:
    return list(db.query("select * from account_events where username = ? collate nocase "
                         "order by at desc, id desc", [username]))


def set_role(db: Database, username: str, role: str, *, actor: str) -> User:
    """Change a user's role (logged); their sessions end so the new role applies now."""
    check_role(role)
    user = get_user(db, username)
    if user.status == "deactivated":
        raise Conflict(f"user {username!r} is deactivated; deactivation is permanent")
    if user.role != role:
        with db.atomic():
            db.table("users").update(user.id, {"role": role})
            db.execute("delete from sessions where user_id = ?", [user.id])
            log_event(db, actor, user.username, "role", f"{user.role} -> {role}")
    return get_user(db, username)


def set_profile(db: Database, username: str, *, actor: str, full_name: str | None = None,
                school: str | None = None, email: str | None = None,
                phone: str | None = None) -> User:
    """Change the given profile fields (checked; BadRequest names the field)."""
    user = get_user(db, username)
    profile = check_profile(full_name=full_name, school=school, email=email, phone=phone)
    if profile.get("full_name") == "":
        profile["full_name"] = user.username
    if profile:
        with db.atomic():
            db.table("users").update(user.id, profile)
            log_event(db, actor, user.username, "profile", ", ".join(sorted(profile)))
    return get_user(db, username)


def temporary_password(username: str) -> str:
    """A one-time password that passes `check_password` (shown once, never stored)."""
    while True:
        candidate = "-".join(secrets.token_hex(3) for _ in range(4))
        try:
            check_password(candidate, username)
        except BadRequest:
            continue
        return candidate


def reset_password(db: Database, username: str, password_hash: str, *, actor: str,
                   now: float | None = None) -> User:
    """An operator's reset: the hash of a temporary password, which must be changed at
    the next sign-in; ends the user's sessions; logged (who, when; never the password)."""
    user = get_user(db, username)
    if user.status == "deactivated":
        raise Conflict(f"user {username!r} is deactivated; deactivation is permanent")
    with db.atomic():
        db.table("users").update(user.id, {"password_hash": password_hash,
                                           "must_change_password": 1})
        db.execute("delete from sessions where user_id = ?", [user.id])
        log_event(db, actor, user.username, "password reset",
                  "temporary password; must be changed at next sign-in", now=now)
    return get_user(db, username)


def people(db: Database, usernames: Iterable[str] | None = None) -> dict[str, User]:
    """Users by lower-case username, to show full names and schools beside a username."""
    return {u.username.lower(): u for u in list_users(db)
            if usernames is None or u.username.lower() in {n.lower() for n in usernames}}


# ---- login throttling --------------------------------------------------------------------
#
# Three counters, in `login_failures`, and one rule each (issue 12 item 7):
# - per (account, address) pair: `max_failures` failures within `lockout` of each other
#   lock that pair for `lockout`; the one hard lock, and it only ever refuses that account
#   from that address, so a school behind one NAT address is never locked out by another
#   account's failures;
# - per address (all accounts): never refuses; once it has `max_failures` recent failures
#   every later attempt from it waits a rising delay, DELAY_BASE doubling per failure, at
#   most DELAY_MAX (`login_delay`);
# - per account (all addresses): the same delay; and after ACCOUNT_FAILURE_FACTOR x
#   `max_failures` failures (no success in between, none forgotten by a quiet day) the
#   account is refused for `lockout` from every address it has *not* signed in from
#   successfully before (`login_addresses`). An attacker anywhere can at worst keep the
#   account from signing in from new addresses; its usual addresses still work.

def throttle_keys(username: str, client: str) -> tuple[str, str]:
    """The account-wide and address-wide keys of `login_failures`."""
    return (f"user:{username.lower()}", f"addr:{client}")


def _pair_key(username: str, client: str) -> str:
    return f"pair:{username.lower()}|{client}"


def _row(db: Database, key: str) -> dict[str, Any] | None:
    return next(iter(db.query("select * from login_failures where key = ?", [key])), None)


def _recent_failures(row: dict[str, Any] | None, *, now: float, window: float) -> int:
    if row is None or now - (row["last_failure_at"] or 0.0) >= window:
        return 0
    return int(row["failures"])


def is_known_address(db: Database, username: str, client: str, *, now: float) -> bool:
    """True if this account signed in successfully from this address lately."""
    row = next(iter(db.query("select last_success_at from login_addresses where key = ?",
                             [_pair_key(username, client)])), None)
    return row is not None and now - row["last_success_at"] < KNOWN_ADDRESS_LIFETIME


def lock_of(db: Database, username: str, client: str, *, now: float,
            account_wide: bool = True) -> tuple[float, str]:
    """Seconds until this username may be tried from this address (0: now), and why:
    `pair` (too many failures for this account from this address) or `account` (too many
    failures for this account from everywhere, and this address is not one it used)."""
    found = [(0.0, "")]
    pair = _row(db, _pair_key(username, client))
    if pair and (pair["locked_until"] or 0.0) > now:
        found.append((pair["locked_until"] - now, "pair"))
    if account_wide:
        account = _row(db, throttle_keys(username, client)[0])
        if (account and (account["locked_until"] or 0.0) > now
                and not is_known_address(db, username, client, now=now)):
            found.append((account["locked_until"] - now, "account"))
    return max(found)


def locked_for(db: Database, username: str, client: str, *, now: float,
               account_wide: bool = True) -> float:
    """Seconds until a login for this username from this address may be tried (0: now)."""
    return lock_of(db, username, client, now=now, account_wide=account_wide)[0]


def _delay(failures: int, free: int) -> float:
    if failures < free:
        return 0.0
    return min(DELAY_MAX, DELAY_BASE * 2.0 ** min(failures - free, 16))


def login_delay(db: Database, username: str, client: str, *, now: float,
                max_failures: int, lockout: float) -> float:
    """Seconds to wait before checking a password from this address for this username:
    0 until the address (or the account) has `max_failures` recent failures, then rising,
    at most DELAY_MAX. A delay, never a refusal: the right password still gets in."""
    user_key, addr_key = throttle_keys(username, client)
    by_address = _recent_failures(_row(db, addr_key), now=now, window=lockout)
    by_account = _recent_failures(_row(db, user_key), now=now,
                                  window=max(lockout, ACCOUNT_FAILURE_WINDOW))
    return max(_delay(by_address, max_failures), _delay(by_account, max_failures))


def record_failure(db: Database, username: str, client: str, *, now: float,
                   max_failures: int, lockout: float) -> float:
    """Count one failed login; return the lock time now in force (0 if none)."""
    user_key, addr_key = throttle_keys(username, client)
    counters = {  # key: (window, failures that lock it, or 0: never locks)
        _pair_key(username, client): (lockout, max_failures),
        addr_key: (lockout, 0),
        user_key: (max(lockout, ACCOUNT_FAILURE_WINDOW), max_failures * ACCOUNT_FAILURE_FACTOR),
    }
    with db.atomic():
        for key, (window, limit) in counters.items():
            failures = _recent_failures(_row(db, key), now=now, window=window) + 1
            locked_until = now + lockout if limit and failures >= limit else 0.0
            db.table("login_failures").upsert(
                {"key": key, "failures": failures, "last_failure_at": now,
                 "locked_until": locked_until}, pk="key")
    return locked_for(db, username, client, now=now)


def record_success(db: Database, username: str, client: str, *, now: float) -> None:
    """After a good login: forget the account's failures and this pair's, and remember
    the address as one the account uses (the address-wide count stays)."""
    with db.atomic():
        db.execute("delete from login_failures where key in (?, ?)",
                   [throttle_keys(username, client)[0], _pair_key(username, client)])
        db.table("login_addresses").upsert(
            {"key": _pair_key(username, client), "last_success_at": now}, pk="key")


def clear_failures(db: Database, username: str) -> None:
    """Forget a username's account-wide failures (the address and pair counts stay)."""
    db.execute("delete from login_failures where key = ?", [throttle_keys(username, "")[0]])


# ---- sessions ----------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(db: Database, user: User, *, now: float,
                   client: str = "") -> tuple[str, Session]:
    """Start a session; return the browser's token (never stored) and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.atomic():
        db.table("sessions").insert({"token_hash": _token_hash(token), "user_id": user.id,
                                     "csrf_token": csrf, "created_at": now,
                                     "last_seen_at": now, "client": client})
        db.table("users").update(user.id, {"last_login_at": now})
    return token, Session(_token_hash(token), user, csrf, now, now)


def load_session(db: Database, token: str, *, now: float, idle_timeout: float,
                 absolute_lifetime: float = SESSION_ABSOLUTE_LIFETIME,
                 touch_after: float = 5.0) -> Session | None:
    """The live session for a token, refreshing its idle clock; None (and deleted) if over."""
    if not token or len(token) > 128:
        return None
    th = _token_hash(token)
    rows = list(db.query(
        "select s.*, u.username, u.role, u.status, u.created_at as user_created_at, "
        "u.last_login_at, u.full_name, u.school, u.email, u.phone, u.must_change_password "
        "from sessions s join users u on u.id = s.user_id "
        "where s.token_hash = ?", [th]))
    if not rows:
        return None
    r = rows[0]
    expired = (now - r["last_seen_at"] > idle_timeout
               or now - r["created_at"] > absolute_lifetime
               or r["status"] != "active")
    if expired:
        db.execute("delete from sessions where token_hash = ?", [th])
        return None
    if now - r["last_seen_at"] >= min(touch_after, idle_timeout / 4):
        db.execute("update sessions set last_seen_at = ? where token_hash = ?", [now, th])
    user = _user(r, created_at="user_created_at", id_="user_id")
    return Session(th, user, r["csrf_token"], r["created_at"], now)


def end_session(db: Database, token_hash: str) -> None:
    db.execute("delete from sessions where token_hash = ?", [token_hash])


def prune_sessions(db: Database, *, now: float, idle_timeout: float,
                   absolute_lifetime: float = SESSION_ABSOLUTE_LIFETIME) -> int:
    """Delete expired sessions and stale throttle rows; return the sessions removed."""
    with db.atomic():
        cur = db.execute("delete from sessions where last_seen_at < ? or created_at < ?",
                         [now - idle_timeout, now - absolute_lifetime])
        db.execute("delete from login_failures where locked_until < ? and last_failure_at < ?",
                   [now, now - ACCOUNT_FAILURE_WINDOW])
        db.execute("delete from login_addresses where last_success_at < ?",
                   [now - KNOWN_ADDRESS_LIFETIME])
    return cur.rowcount


# ---- record of access --------------------------------------------------------------------

def record_view(db: Database, user: str, role: str, purpose: str, student_ids: Iterable[str],
                source_state: str, *, what: str = "record", now: float | None = None) -> int:
    """Record that `user` (acting as `role`) saw these students' data; return rows written.

    `what` says what was shown: `record` (the full record) or `search` (a result line).
    """
    if purpose not in PURPOSES:
        raise BadRequest(f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    now = clock.now() if now is None else now
    rows = [{"at": now, "username": user, "role": role, "purpose": purpose,
             "student_id": sid, "source_state": source_state, "what": what}
            for sid in student_ids]
    if rows:
        with db.atomic():
            db.table("student_views").insert_all(rows)
    return len(rows)


def views_of(db: Database, student_id: str) -> list[dict[str, Any]]:
    """Every recorded view of one student, newest first (the disclosure history page)."""
    return list(db.query("select * from student_views where student_id = ? "
                         "order by at desc, id desc", [student_id]))
