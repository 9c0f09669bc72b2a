"""People (issue 15 item 6): users' full name, school, e-mail and phone; the migration on
a database made by the previous release; role change, disable, password reset with a
forced change at the next sign-in, through the real app (aiohttp test client); the
`statenode users` fields and commands; the error paths (a bad e-mail or phone names the
field, an unknown role, resetting an unknown user)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from node.errors import BadRequest, NotFound
from node.store import accounts
from node.store.database import Store
from tests.node.test_web_security import PW, Web, token_of
from tests.node.test_web_security import web as web


def test_migration_on_a_previous_release_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    accounts.migrations.apply(db, stop_before="m003_people")  # the previous release
    db.table("users").insert({"username": "maria", "role": "staff", "password_hash": "x",
                              "status": "active", "created_at": 1.0,
                              "status_changed_at": 1.0})
    db.table("sessions").insert({"token_hash": "t", "user_id": 1, "csrf_token": "c",
                                 "created_at": 1.0, "last_seen_at": 1.0, "client": ""})
    assert "full_name" not in db["users"].columns_dict
    accounts.apply_migrations(db)
    user = accounts.get_user(db, "maria")
    assert (user.full_name, user.school, user.email, user.phone) == ("maria", "", "", "")
    assert not user.must_change_password and user.display_name == "maria"
    assert db["account_events"].count == 0
    assert db.execute("select count(*) from sessions").fetchone()[0] == 1, "sessions kept"
    accounts.apply_migrations(db)  # again: nothing to do
    db.close()


def test_people_fields_and_error_paths(tmp_path: Path) -> None:
    db = Database(sqlite3.connect(tmp_path / "n.db"))
    accounts.apply_migrations(db)
    user = accounts.add_user(db, "ana", "staff", "x", full_name="  Ana   López ",
                             school="Roma ISD", email="ana@roma.example.org",
                             phone="+1 (956) 555-0100")
    assert user.full_name == "Ana López" and user.display_name == "Ana López (Roma ISD)"
    for kwargs, field in (({"email": "ana@"}, "email"), ({"email": "a b@x.org"}, "email"),
                          ({"phone": "call me"}, "phone"), ({"phone": "12"}, "phone"),
                          ({"full_name": "x" * 101}, "full name"),
                          ({"school": "a\x00b"}, "school or district")):
        with pytest.raises(BadRequest, match=f"^{field}: "):
            accounts.set_profile(db, "ana", actor="otto", **kwargs)
        with pytest.raises(BadRequest, match=f"^{field}: "):
            accounts.add_user(db, "bea", "staff", "x", **kwargs)
    with pytest.raises(BadRequest, match="role 'boss' is not one of"):
        accounts.set_role(db, "ana", "boss", actor="otto")
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        accounts.reset_password(db, "nobody", "x", actor="otto")
    assert accounts.set_role(db, "ana", "data_admin", actor="otto").role == "data_admin"
    cleared = accounts.set_profile(db, "ana", actor="otto", full_name="", email="")
    assert cleared.full_name == "ana" and cleared.email == "" and cleared.school == "Roma ISD"
    temp = accounts.temporary_password("ana")
    accounts.check_password(temp, "ana")  # the rules every password goes through
    assert accounts.reset_password(db, "ana", "h", actor="otto").must_change_password
    events = accounts.events_of(db, "ana")
    assert [e["event"] for e in events] == ["password reset", "profile", "role"]
    assert all(temp not in str(e) for e in events)


async def test_reset_forces_a_change_at_first_sign_in(web: Web) -> None:
    otto = await web.login("otto")
    page = await (await otto.get("/users")).text()
    token = token_of(page)
    resp = await otto.post("/users/reset-password", data={"csrf_token": token,
                                                          "username": "sam"})
    html = await resp.text()
    assert resp.status == 200 and "Password of sam reset" in html
    import re
    m = re.search(r'id="temporary-password">([^<]+)<', html)
    assert m
    temporary = m.group(1)
    with pytest.raises(AssertionError):
        await web.login("sam")  # the old password no longer works
    sam = await web.login("sam", temporary)
    for path in ("/", "/students", "/reports"):
        r = await sam.get(path, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/account/password", path
    form = await (await sam.get("/account/password")).text()
    assert "An operator reset your password" in form
    csrf = token_of(form)
    weak = await sam.post("/account/password", data={
        "csrf_token": csrf, "current": temporary, "password": "password1234",
        "password2": "password1234"}, allow_redirects=False)
    assert weak.status == 400 and "commonly used or compromised" in await weak.text()
    wrong = await sam.post("/account/password", data={
        "csrf_token": csrf, "current": "not it at all", "password": PW + " two",
        "password2": PW + " two"}, allow_redirects=False)
    assert wrong.status == 400
    ok = await sam.post("/account/password", data={
        "csrf_token": csrf, "current": temporary, "password": PW + " two",
        "password2": PW + " two"}, allow_redirects=False)
    assert ok.status == 303, await ok.text()
    assert (await sam.get("/students", allow_redirects=False)).status == 200
    await web.login("sam", PW + " two")

    def events(db: Any) -> list[dict[str, Any]]:
        return accounts.events_of(db, "sam")

    with Store(web.store_path) as store:
        logged = store.call(events)
    assert [(e["event"], e["actor"]) for e in logged] == [
        ("password changed", "sam"), ("password reset", "otto")]
    assert all(temporary not in str(e) for e in logged)
    unknown = await otto.post("/users/reset-password", data={"csrf_token": token,
                                                             "username": "nobody"})
    assert unknown.status == 404 and "No user named" in await unknown.text()


async def test_operator_changes_role_details_and_disables(web: Web) -> None:
    otto = await web.login("otto")
    token = token_of(await (await otto.get("/users")).text())
    sam = await web.login("sam")
    assert (await sam.get("/data-quality", allow_redirects=False)).status == 403
    role = await otto.post("/users/role", data={"csrf_token": token, "username": "sam",
                                                "role": "data_admin"})
    assert role.status == 200 and "is now Data administrator" in await role.text()
    assert (await sam.get("/data-quality", allow_redirects=False)).status in (302, 303), \
        "the role change ended sam's session"
    sam = await web.login("sam")
    assert (await sam.get("/data-quality")).status == 200
    bad_role = await otto.post("/users/role", data={"csrf_token": token, "username": "sam",
                                                    "role": "boss"})
    assert bad_role.status == 400 and "Role &#39;boss&#39; is not one of" in \
        await bad_role.text()
    bad_mail = await otto.post("/users/profile", data={
        "csrf_token": token, "username": "sam", "full_name": "Sam Ortiz", "school": "",
        "email": "sam@", "phone": ""})
    assert bad_mail.status == 400 and "Email: " in await bad_mail.text()
    bad_phone = await otto.post("/users/profile", data={
        "csrf_token": token, "username": "sam", "full_name": "Sam Ortiz", "school": "",
        "email": "", "phone": "555"})
    assert bad_phone.status == 400 and "Phone: " in await bad_phone.text()
    saved = await otto.post("/users/profile", data={
        "csrf_token": token, "username": "sam", "full_name": "Sam Ortiz",
        "school": "Pharr-San Juan-Alamo ISD", "email": "sam@psja.example.org",
        "phone": "+1 956 555 0101"})
    page = await saved.text()
    assert "Saved Sam Ortiz (Pharr-San Juan-Alamo ISD)" in page
    assert "sam@psja.example.org" in page and "+1 956 555 0101" in page
    added = await otto.post("/users", data={
        "csrf_token": token, "username": "lupe", "role": "staff", "full_name": "Lupe Garza",
        "school": "Edinburg CISD", "email": "lupe@", "phone": "", "password": PW,
        "password2": PW})
    assert added.status == 400 and "Email: " in await added.text()
    off = await otto.post("/users/status", data={"csrf_token": token, "username": "sam",
                                                 "action": "disable"})
    assert off.status == 200
    with pytest.raises(AssertionError):
        await web.login("sam")


def test_cli_users_fields(node_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from node.cli import cli

    config = str(node_dir / "node.toml")
    pw_file = tmp_path / "pw"
    pw_file.write_text(PW + "\n")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), obj={})

    ok = run("users", "add", "-c", config, "maria", "--role", "staff", "--password-file",
             str(pw_file), "--full-name", "María Pérez", "--school", "Roma ISD",
             "--email", "maria@roma.example.org", "--phone", "+1 956 555 0102")
    assert ok.exit_code == 0, ok.output
    assert "added user maria (School staff), María Pérez (Roma ISD)" in ok.output
    listed = run("users", "list", "-c", config)
    assert "María Pérez | Roma ISD | maria@roma.example.org | +1 956 555 0102" in listed.output
    bad = run("users", "add", "-c", config, "ana", "--role", "staff", "--password-file",
              str(pw_file), "--email", "not-an-address")
    assert bad.exit_code == 1 and "email: 'not-an-address' is not an e-mail" in bad.output
    phone = run("users", "set", "-c", config, "maria", "--phone", "call me")
    assert phone.exit_code == 1 and "phone: " in phone.output
    changed = run("users", "set", "-c", config, "maria", "--role", "data_admin",
                  "--school", "Rio Grande City CISD")
    assert changed.exit_code == 0, changed.output
    assert "María Pérez (Rio Grande City CISD), Data administrator" in changed.output
    role = run("users", "set", "-c", config, "maria", "--role", "boss")
    assert role.exit_code == 2 and "boss" in role.output
    reset = run("users", "reset-password", "-c", config, "maria")
    assert reset.exit_code == 0 and "temporary password for maria" in reset.output
    temporary = reset.output.rsplit(": ", 1)[1].strip()
    assert "must change password" in run("users", "list", "-c", config).output
    from config import load_config
    from crypto.passwords import verify_password

    with Store(load_config(config).storage.database) as store:
        _user, phc = store.call(accounts.password_hash_of, "maria")
        events = store.call(accounts.events_of, "maria")
    verify_password(temporary, phc)
    assert events[0]["event"] == "password reset" and events[0]["actor"].startswith("cli:")
    assert all(temporary not in str(e) for e in events)
    unknown = run("users", "reset-password", "-c", config, "nobody")
    assert unknown.exit_code == 1 and "no user named 'nobody'" in unknown.output


async def test_disclosure_history_names_people(web: Web) -> None:
    def named(db: Any) -> None:
        accounts.set_profile(db, "sam", actor="otto", full_name="Sam Ortiz",
                             school="Roma ISD")

    with Store(web.store_path) as store:
        store.call(named)
    sam = await web.login("sam")
    assert (await sam.get(f"/students/{web.sid}?purpose=placement")).status == 200
    audrey = await web.login("audrey")
    page = await (await audrey.get("/audit/student", params={"student": web.sid})).text()
    assert "Sam Ortiz (sam), Roma ISD" in page
    home = await (await audrey.get("/")).text()
    assert "Sam Ortiz (sam), Roma ISD" in home


def test_person_labels() -> None:
    from node.web.people_names import label

    user = accounts.User(1, "ana", "staff", "active", 0.0, None, full_name="Ana López",
                         school="Roma ISD")
    assert label(user) == "Ana López (ana), Roma ISD"
    assert label(accounts.User(2, "bo", "staff", "active", 0.0, None)) == "bo"
