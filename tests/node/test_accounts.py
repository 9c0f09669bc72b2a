"""node.store.accounts: users, statuses, password rules, throttling, sessions, views."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from crypto.passwords import TEST_COST, hash_password
from node.errors import BadRequest, Conflict, NotFound
from node.store import accounts

PW = "correct horse battery staple"


@pytest.fixture
def db() -> Database:
    database = Database(memory=True)
    accounts.apply_migrations(database)
    return database


@pytest.fixture
def phc() -> str:
    return hash_password(PW, TEST_COST)


def test_migrations_are_idempotent(db: Database) -> None:
    accounts.apply_migrations(db)
    assert {"users", "sessions", "login_failures", "login_addresses",
            "student_views"} <= set(db.table_names())


def test_add_find_list(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria.lopez", "staff", phc, now=100.0)
    assert (user.username, user.role, user.status) == ("maria.lopez", "staff", "active")
    assert user.role_label == "School staff"
    accounts.add_user(db, "ana", "auditor", phc)
    assert [u.username for u in accounts.list_users(db)] == ["ana", "maria.lopez"]
    assert accounts.find_user(db, "MARIA.LOPEZ") == user
    assert accounts.find_user(db, "nobody") is None
    found = accounts.password_hash_of(db, "maria.lopez")
    assert found is not None and found[1] == phc


def test_duplicate_names_refused_case_insensitively(db: Database, phc: str) -> None:
    accounts.add_user(db, "maria", "staff", phc)
    with pytest.raises(Conflict, match="already exists"):
        accounts.add_user(db, "Maria", "operator", phc)


@pytest.mark.parametrize("name", ["", "a", "-lead", "with space", "x" * 65, "<script>", "o'brien"])
def test_bad_usernames(db: Database, phc: str, name: str) -> None:
    with pytest.raises(BadRequest, match="username"):
        accounts.add_user(db, name, "staff", phc)


def test_bad_role(db: Database, phc: str) -> None:
    with pytest.raises(BadRequest, match="role 'admin' is not one of"):
        accounts.add_user(db, "maria", "admin", phc)


@pytest.mark.parametrize(("password", "reason"), [
    ("short", "at least 12"),
    ("maria-is-my-password", "username"),
    ("aaaaaaaaaaaaaaaa", "same few"),
    ("x" * 2000, "at most"),
])
def test_password_rules(password: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason) as info:
        accounts.check_password(password, "maria")
    assert password not in str(info.value)


def test_password_rule_accepts_good_password() -> None:
    accounts.check_password(PW, "maria")


# ---- common and compromised passwords (issue 12 item 5) ----------------------------------

@pytest.mark.parametrize("password", [
    "password1234",       # the reported one: a listed password with digits after it
    "Password1234!",      # case and a trailing symbol do not hide it
    "PASSWORD 1234",
    "1234password!!",     # nor digits and symbols before it
    "qwertyuiop12",
    "iloveyou2024",
    "123456789012",       # `1234567890` is listed
    "Dragon2024!!",
    "letmein 12345",
])
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(BadRequest) as info:
        accounts.check_password(password, "maria")
    assert str(info.value) == ("this password is on a list of commonly used or compromised "
                               "passwords; choose another")
    assert password not in str(info.value)


@pytest.mark.parametrize(("password", "username", "reason"), [
    ("Lopez-1999-family", "maria.lopez", "username"),   # a part of the user name
    ("MariaLopez2024!", "maria.lopez", "username"),     # the name without its dot
    ("my statenode login", "ana", "name of this service"),
    ("State-Node-2024!", "ana", "name of this service"),
    ("Migrant2024!!", "ana", "word tied to it"),
    ("msix password please", "ana", "name of this service"),
])
def test_context_words_are_refused(password: str, username: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        accounts.check_password(password, username)


@pytest.mark.parametrize("password", [
    PW, "another good passphrase", "migrant worker rights 1962", "8472-9931-0042",
    "x7Gq-2k9PzL4",
])
def test_uncommon_passwords_pass(password: str) -> None:
    accounts.check_password(password, "maria.lopez")


def test_the_blocklist_ships_with_the_package_and_loads_once() -> None:
    listed = accounts.common_passwords()
    assert listed is accounts.common_passwords(), "read once, then kept"
    assert isinstance(listed, frozenset) and len(listed) >= 30_000
    assert {"password", "123456", "qwerty", "letmein", "trustno1"} <= listed
    assert all(word == word.lower() for word in listed)


def test_disable_enable_deactivate(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria", "staff", phc)
    accounts.create_session(db, user, now=1.0)
    assert accounts.set_status(db, "maria", "disabled").status == "disabled"
    assert db.table("sessions").count == 0, "disabling ends the user's sessions"
    assert accounts.set_status(db, "maria", "active").status == "active"
    assert accounts.set_status(db, "maria", "deactivated").status == "deactivated"
    with pytest.raises(Conflict, match="permanent"):
        accounts.set_status(db, "maria", "active")
    with pytest.raises(Conflict):
        accounts.add_user(db, "maria", "staff", phc)
    assert accounts.find_user(db, "maria") is not None, "deactivation keeps the row"
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        accounts.set_status(db, "ghost", "disabled")
    with pytest.raises(BadRequest, match="status"):
        accounts.set_status(db, "maria", "gone")


def test_throttle_locks_an_account_from_one_address(db: Database) -> None:
    kw = {"max_failures": 3, "lockout": 300.0}
    assert accounts.record_failure(db, "maria", "10.0.0.1", now=0.0, **kw) == 0
    assert accounts.record_failure(db, "maria", "10.0.0.1", now=1.0, **kw) == 0
    assert accounts.record_failure(db, "maria", "10.0.0.1", now=2.0, **kw) == 300.0
    assert accounts.lock_of(db, "MARIA", "10.0.0.1", now=100.0) == (202.0, "pair")
    assert accounts.locked_for(db, "maria", "10.0.0.2", now=100.0) == 0, "other addresses"
    assert accounts.locked_for(db, "ana", "10.0.0.1", now=100.0) == 0, "other accounts"
    assert accounts.locked_for(db, "maria", "10.0.0.1", now=302.0) == 0
    # after the lockout the count starts again
    assert accounts.record_failure(db, "maria", "10.0.0.1", now=1000.0, **kw) == 0


def test_failures_from_many_addresses_lock_nobody_soon(db: Database) -> None:
    """Issue 12 item 7: failures for one account spread over addresses do not lock it
    (before, `max_failures` failures from anywhere locked the account everywhere)."""
    kw = {"max_failures": 3, "lockout": 300.0}
    for i in range(10):
        assert accounts.record_failure(db, "maria", f"10.0.0.{i}", now=float(i), **kw) == 0
    assert accounts.locked_for(db, "maria", "10.9.9.9", now=20.0) == 0


def test_an_address_is_slowed_down_never_locked(db: Database) -> None:
    """Issue 12 item 7: 40 failures from one address (a school's NAT) refuse nobody else."""
    kw = {"max_failures": 5, "lockout": 300.0}
    delays = []
    for i in range(40):
        delays.append(accounts.login_delay(db, "fresh", "10.0.0.1", now=float(i), **kw))
        accounts.record_failure(db, f"user{i % 3}", "10.0.0.1", now=float(i), **kw)
    assert accounts.locked_for(db, "fresh", "10.0.0.1", now=41.0) == 0
    assert accounts.locked_for(db, "user0", "10.0.0.2", now=41.0) == 0
    assert accounts.lock_of(db, "user0", "10.0.0.1", now=41.0)[1] == "pair"
    assert delays[:5] == [0.0] * 5, "a few fumbles cost nothing"
    assert delays[5:9] == [0.25, 0.5, 1.0, 2.0]
    assert max(delays) == accounts.DELAY_MAX == 3.0 and delays == sorted(delays)
    assert accounts.login_delay(db, "fresh", "10.0.0.2", now=41.0, **kw) == 0
    assert accounts.login_delay(db, "fresh", "10.0.0.1", now=40.0 + 300.0, **kw) == 0, (
        "forgotten after a quiet lockout period")


def test_many_failures_refuse_an_account_only_from_new_addresses(db: Database) -> None:
    kw = {"max_failures": 2, "lockout": 300.0}
    limit = 2 * accounts.ACCOUNT_FAILURE_FACTOR
    accounts.record_success(db, "maria", "10.1.1.1", now=0.0)  # her school
    for i in range(limit - 1):
        accounts.record_failure(db, "maria", f"192.0.2.{i}", now=10.0 + i, **kw)
    assert accounts.locked_for(db, "maria", "203.0.113.9", now=60.0) == 0
    accounts.record_failure(db, "maria", "203.0.113.1", now=60.0, **kw)
    assert accounts.lock_of(db, "maria", "203.0.113.9", now=61.0) == (299.0, "account")
    assert accounts.locked_for(db, "maria", "10.1.1.1", now=61.0) == 0, "known address"
    assert accounts.locked_for(db, "maria", "203.0.113.9", now=61.0, account_wide=False) == 0
    assert accounts.locked_for(db, "ana", "203.0.113.9", now=61.0) == 0
    assert accounts.login_delay(db, "maria", "10.1.1.1", now=61.0, **kw) == accounts.DELAY_MAX
    accounts.record_success(db, "maria", "10.1.1.1", now=62.0)
    assert accounts.locked_for(db, "maria", "203.0.113.9", now=63.0) == 0, "a success clears"


def test_success_clears_the_account_and_pair_not_the_address(db: Database) -> None:
    kw = {"max_failures": 3, "lockout": 300.0}
    accounts.record_failure(db, "maria", "10.0.0.1", now=0.0, **kw)
    accounts.record_failure(db, "maria", "10.0.0.1", now=1.0, **kw)
    accounts.record_failure(db, "ana", "10.0.0.1", now=1.5, **kw)
    accounts.record_success(db, "maria", "10.0.0.1", now=1.8)
    assert accounts.record_failure(db, "maria", "10.0.0.1", now=2.0, **kw) == 0
    assert accounts.login_delay(db, "x", "10.0.0.1", now=3.0, **kw) == 0.5, "4 failures stay"
    assert accounts.is_known_address(db, "MARIA", "10.0.0.1", now=3.0)
    assert not accounts.is_known_address(db, "maria", "10.0.0.2", now=3.0)
    assert not accounts.is_known_address(
        db, "maria", "10.0.0.1", now=3.0 + accounts.KNOWN_ADDRESS_LIFETIME)


def test_session_token_only_hash_stored(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria", "staff", phc)
    token, session = accounts.create_session(db, user, now=10.0, client="127.0.0.1")
    assert len(token) >= 43  # 32 random bytes, base64url
    row = next(iter(db.table("sessions").rows))
    assert token not in row.values()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    loaded = accounts.load_session(db, token, now=20.0, idle_timeout=60.0)
    assert loaded is not None and loaded.user.username == "maria"
    assert loaded.csrf_token == session.csrf_token
    assert accounts.find_user(db, "maria").last_login_at == 10.0  # type: ignore[union-attr]


def test_session_idle_timeout_slides(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria", "staff", phc)
    token, _ = accounts.create_session(db, user, now=0.0)
    assert accounts.load_session(db, token, now=50.0, idle_timeout=60.0) is not None
    assert accounts.load_session(db, token, now=100.0, idle_timeout=60.0) is not None
    assert accounts.load_session(db, token, now=161.0, idle_timeout=60.0) is None
    assert db.table("sessions").count == 0, "an expired session is deleted"


def test_session_absolute_lifetime(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria", "staff", phc)
    token, _ = accounts.create_session(db, user, now=0.0)
    t = 0.0
    while t + 9 <= 100:
        t += 9
        assert accounts.load_session(db, token, now=t, idle_timeout=10,
                                     absolute_lifetime=100) is not None
    assert accounts.load_session(db, token, now=t + 9, idle_timeout=10,
                                 absolute_lifetime=100) is None


def test_session_unknown_or_oversized_token(db: Database) -> None:
    assert accounts.load_session(db, "nope", now=0.0, idle_timeout=60) is None
    assert accounts.load_session(db, "", now=0.0, idle_timeout=60) is None
    assert accounts.load_session(db, "x" * 500, now=0.0, idle_timeout=60) is None


def test_end_and_prune_sessions(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria", "staff", phc)
    _t1, s1 = accounts.create_session(db, user, now=0.0)
    t2, _s2 = accounts.create_session(db, user, now=0.0)
    accounts.end_session(db, s1.token_hash)
    assert db.table("sessions").count == 1
    assert accounts.prune_sessions(db, now=1000.0, idle_timeout=60) == 1
    assert accounts.load_session(db, t2, now=1000.0, idle_timeout=60) is None


def test_password_change_ends_sessions(db: Database, phc: str) -> None:
    user = accounts.add_user(db, "maria", "staff", phc)
    token, _ = accounts.create_session(db, user, now=0.0)
    accounts.set_password(db, "maria", hash_password("another good passphrase", TEST_COST))
    assert accounts.load_session(db, token, now=1.0, idle_timeout=60) is None


def test_record_view_and_history(db: Database) -> None:
    n = accounts.record_view(db, "maria", "staff", "placement", ["TX1", "TX2"], "TX", now=5.0)
    assert n == 2
    accounts.record_view(db, "ana", "data_admin", "data_quality", ["TX1"], "CA", now=6.0,
                         what="search")
    history = accounts.views_of(db, "TX1")
    assert [(v["username"], v["role"], v["purpose"], v["source_state"], v["what"])
            for v in history] == [("ana", "data_admin", "data_quality", "CA", "search"),
                                  ("maria", "staff", "placement", "TX", "record")]
    assert accounts.record_view(db, "maria", "staff", "placement", [], "TX") == 0
    with pytest.raises(BadRequest, match="purpose 'curiosity'"):
        accounts.record_view(db, "maria", "staff", "curiosity", ["TX1"], "TX")


# ---- the `statenode users` commands --------------------------------------------------------

def test_cli_users(node_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from node.cli import cli

    config = str(node_dir / "node.toml")
    runner = CliRunner()
    pw_file = tmp_path / "pw"
    pw_file.write_text(PW + "\n")

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(cli, list(args), input=input, obj={})

    ok = run("users", "add", "-c", config, "maria", "--role", "staff", "--password-file",
             str(pw_file))
    assert ok.exit_code == 0, ok.output
    assert "added user maria (School staff)" in ok.output
    prompted = run("users", "add", "-c", config, "otto", "--role", "operator",
                   input=f"{PW}\n{PW}\n")
    assert prompted.exit_code == 0, prompted.output
    assert PW not in prompted.output
    dup = run("users", "add", "-c", config, "Maria", "--role", "staff", "--password-file",
              str(pw_file))
    assert dup.exit_code == 1 and "already exists" in dup.output
    short = tmp_path / "short"
    short.write_text("tiny\n")
    bad = run("users", "add", "-c", config, "ana", "--role", "staff", "--password-file",
              str(short))
    assert bad.exit_code == 1 and f"{short}: the password must have at least 12" in bad.output
    common = tmp_path / "common"
    common.write_text("password1234\n")
    weak = run("users", "add", "-c", config, "ana", "--role", "staff", "--password-file",
               str(common))
    assert weak.exit_code == 1
    assert "on a list of commonly used or compromised passwords" in weak.output
    assert "password1234" not in weak.output
    typed = run("users", "add", "-c", config, "ana", "--role", "staff",
                input="Password1234!\nPassword1234!\n")
    assert typed.exit_code == 1 and "commonly used or compromised" in typed.output
    role = run("users", "add", "-c", config, "ana", "--role", "boss", "--password-file",
               str(pw_file))
    assert role.exit_code == 2
    assert "user maria is now disabled" in run("users", "disable", "-c", config, "maria").output
    assert "user maria is now active" in run("users", "enable", "-c", config, "maria").output
    gone = run("users", "deactivate", "-c", config, "maria", "--yes")
    assert "user maria is now deactivated" in gone.output
    again = run("users", "enable", "-c", config, "maria")
    assert again.exit_code == 1 and "permanent" in again.output
    missing = run("users", "disable", "-c", config, "ghost")
    assert missing.exit_code == 1 and "no user named 'ghost'" in missing.output
    listing = run("users", "list", "-c", config).output.splitlines()
    assert [line.split()[:3] for line in listing] == [["maria", "staff", "deactivated"],
                                                      ["otto", "operator", "active"]]


def test_demo_passwords_pass_the_rules() -> None:
    from node.ops.demo import demo_password

    for role in accounts.ROLES:
        accounts.check_password(demo_password(role), role)
    assert demo_password("staff", PW) == PW
    with pytest.raises(BadRequest, match="--password for the demo user 'staff': this password "
                                         "is on a list of commonly used"):
        demo_password("staff", "password1234")
