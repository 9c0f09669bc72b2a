"""The holder's side of the discover round with real parts (issue 14): the OPRF key file
(init, the key-folder migration, passphrase, 0600, backup and restore), `[discover]`
config errors, the rate limit in elements, and the filter rebuild on a database made by
the previous release (backfill, only changed students, new versions, a new OPRF key)."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from config import ConfigError, load_config
from config.schema import NodeConfig
from crypto.errors import KeyFileError
from crypto.oprf import OprfKey, evaluate
from crypto.oprf_key_file import load_oprf_key, replace_oprf_key, save_oprf_key
from node.audit.exchange_log import ExchangeLog
from node.directory.identity import ensure_keys, load_keys, rotate_oprf_key
from node.federation.discover import ElementBucket
from node.importing.discover_rebuild import rebuild
from node.importing.importer import import_files
from node.importing.synthetic import generate_students
from node.matching.discover_keys import DISCOVER_KEYS_VERSION, record_discover_keys
from node.ops.backup import backup, restore
from node.store import accounts, discover_tables, federation_tables, link_tables, reports
from node.store.database import Store
from protocol.discover_signed import FilterInfo, open_filter

DUMP = Path(__file__).resolve().parent / "data" / "node-db-before-edfi.sql"


def _cfg(node_dir: Path) -> NodeConfig:
    return load_config(node_dir / "node.toml")


def test_init_makes_a_private_oprf_key(node_dir: Path) -> None:
    cfg = _cfg(node_dir)
    assert stat.S_IMODE(cfg.keys.oprf_key.stat().st_mode) == 0o600
    key = load_keys(cfg).oprf
    assert key is not None
    assert key.private.hex() not in repr(key)
    assert ensure_keys(cfg) == []  # nothing missing


def test_key_folder_of_the_previous_release_gains_an_oprf_key(node_dir: Path) -> None:
    cfg = _cfg(node_dir)
    cfg.keys.oprf_key.unlink()
    assert load_keys(cfg).oprf is None
    made = ensure_keys(cfg)
    assert any("OPRF key" in m for m in made)
    assert stat.S_IMODE(cfg.keys.oprf_key.stat().st_mode) == 0o600
    assert load_keys(cfg).oprf is not None


def test_oprf_key_file_passphrase_and_modes(tmp_path: Path) -> None:
    key = OprfKey.generate()
    path = tmp_path / "oprf.key"
    save_oprf_key(path, key, passphrase=b"correct horse")
    assert key.private.hex() not in path.read_text()
    assert load_oprf_key(path, passphrase=b"correct horse") == key
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_oprf_key(path, passphrase=b"wrong")
    with pytest.raises(KeyFileError, match="passphrase is required"):
        load_oprf_key(path)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_oprf_key(path, key)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="accessible by other users"):
        load_oprf_key(path, passphrase=b"correct horse")


@pytest.mark.parametrize(("text", "message"), [
    ("[discover]\nburst = 6\n", "discover.burst: must be at least 7"),
    ("[discover]\nelements_per_minute = 0\n", "discover.elements_per_minute: must be at least 1"),
    ("[discover]\nenabled = \"yes\"\n", "discover.enabled: must be true or false"),
    ("[discover]\nrate = 5\n", "discover.rate: unknown setting"),
    ("[discover]\nrebuild_interval = \"soon\"\n", "discover.rebuild_interval"),
    ("[keys]\noprf_key = \"keys/signing.pem\"\n", "keys.oprf_key: must be another file"),
])
def test_discover_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text('[node]\nid = "TX"\n' + text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.", 1)):
        load_config(path)


def test_the_element_count_is_one_number_everywhere() -> None:
    from config.load import DISCOVER_ELEMENTS as in_config
    from node.matching.discover_keys import DISCOVER_ELEMENTS
    from protocol.messages import DISCOVER_ELEMENTS as on_the_wire

    assert in_config == on_the_wire == DISCOVER_ELEMENTS


def test_discover_defaults(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('[node]\nid = "TX"\n')
    cfg = load_config(path)
    assert cfg.discover.enabled is True
    assert cfg.discover.burst >= 7 and cfg.discover.elements_per_minute >= 7


def test_element_bucket_limits_per_minute_with_a_burst() -> None:
    bucket = ElementBucket(rate=32, burst=48)
    assert bucket.take(16, now=0.0) and bucket.take(16, now=0.0) and bucket.take(16, now=0.0)
    assert not bucket.take(16, now=0.0)  # the burst is spent
    assert not bucket.take(16, now=29.0)  # 15.5 elements back
    assert bucket.take(16, now=31.0)  # 32 a minute: 16 after 30 s
    assert not bucket.take(16, now=31.0)


def _old_store(tmp_path: Path) -> Path:
    path = tmp_path / "node.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(DUMP.read_text(encoding="utf-8"))
    return path


def _migrate(store: Store) -> None:
    for apply in (federation_tables.apply_migrations, accounts.apply_migrations,
                  link_tables.apply_migrations, reports.apply_migrations,
                  discover_tables.apply_migrations):
        store.call(apply)


def test_rebuild_on_a_previous_release_database(tmp_path: Path, node_dir: Path) -> None:
    cfg = _cfg(node_dir)
    keys = load_keys(cfg)
    assert keys.oprf is not None
    path = _old_store(tmp_path)
    with Store(path) as store:
        _migrate(store)
        students = store.call(lambda db: [dict(r) for r in db.query("SELECT * FROM students")])
        assert students and store.call(lambda db: db["discover_values"].count) == 0
        first = rebuild(store, node_id="TX", oprf=keys.oprf, signing=keys.signing)
        assert first.rebuilt and first.version == 1 and first.evaluated == len(students)
        again = rebuild(store, node_id="TX", oprf=keys.oprf, signing=keys.signing)
        assert not again.rebuilt and again.version == 1 and again.evaluated == 0
        latest = store.call(discover_tables.latest_filter)
        info = FilterInfo(latest.version, latest.sha256, latest.members, latest.records,
                          latest.false_positive_ppm)
        opened = open_filter(latest.signed, signing_keys=(keys.signing.public,),
                             node_id="TX", expected=info, oprf_public_key=keys.oprf.public)
        for s in students:  # every stored child's keys are in the filter
            for k in record_discover_keys(s):
                assert evaluate(keys.oprf, k.encode()) in opened.filter
        assert opened.info.records == len(students)
        # one student changes: only that one is evaluated, under a new version
        store.call(lambda db: db.execute("UPDATE students SET first_name = 'Zacarías', "
                                         "row_hash = 'changed' WHERE id = ?",
                                         [students[0]["id"]]))
        changed = rebuild(store, node_id="TX", oprf=keys.oprf, signing=keys.signing)
        assert changed.rebuilt and changed.version == 2 and changed.evaluated == 1
        # a student removed: a new version without it
        store.call(lambda db: db.execute("PRAGMA foreign_keys=ON"))
        store.call(lambda db: db.execute("DELETE FROM students WHERE id = ?",
                                         [students[-1]["id"]]))
        removed = rebuild(store, node_id="TX", oprf=keys.oprf, signing=keys.signing)
        assert removed.version == 3 and removed.records == len(students) - 1
        # a new OPRF key: every student again
        other = OprfKey.generate()
        rotated = rebuild(store, node_id="TX", oprf=other, signing=keys.signing)
        assert rotated.version == 4 and rotated.evaluated == len(students) - 1
        rows = store.call(lambda db: db.execute(
            "SELECT COUNT(*) FROM discover_values WHERE keys_version = ?",
            [DISCOVER_KEYS_VERSION]).fetchone()[0])
        assert rows == len(students) - 1
        versions = store.call(lambda db: [r[0] for r in db.execute(
            "SELECT version FROM discover_filters ORDER BY version")])
        assert versions == [3, 4]  # the last two are kept


def test_rebuild_with_worker_processes_matches_one_process(tmp_path: Path,
                                                           node_dir: Path) -> None:
    cfg = _cfg(node_dir)
    keys = load_keys(cfg)
    assert keys.oprf is not None
    data = tmp_path / "s.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in generate_students("TX", 300, 5)))
    sums = []
    for workers, name in ((1, "a.db"), (2, "b.db")):
        with Store(tmp_path / name) as store:
            import_files(store, [data], owner_state="TX", progress=False, workers=0)
            import node.importing.discover_rebuild as dr
            old, dr.PARALLEL_MIN = dr.PARALLEL_MIN, 10
            try:
                done = rebuild(store, node_id="TX", oprf=keys.oprf, signing=keys.signing,
                               workers=workers)
            finally:
                dr.PARALLEL_MIN = old
            assert done.evaluated == 300
            sums.append(store.call(discover_tables.latest_filter).sha256)
    assert sums[0] == sums[1]


def test_backup_and_restore_carry_the_oprf_key(node_dir: Path, tmp_path: Path) -> None:
    cfg = _cfg(node_dir)
    with Store(cfg.storage.database) as store:
        _migrate(store)
    ExchangeLog(cfg.storage.exchange_log, load_keys(cfg).signing, "TX").close()
    original = cfg.keys.oprf_key.read_bytes()
    rotate_oprf_key(cfg)  # a prepared next key travels too
    report = backup(cfg, tmp_path / "bk", include_keys=True)
    copied = report.folder / "keys" / cfg.keys.oprf_key.name
    assert copied.read_bytes() == original
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600
    assert (report.folder / "keys" / (cfg.keys.oprf_key.name + ".next")).exists()
    plain = backup(cfg, tmp_path / "plain")
    assert not (plain.folder / "keys").exists()
    replace_oprf_key(cfg.keys.oprf_key, OprfKey.generate())  # the key is lost or replaced
    assert cfg.keys.oprf_key.read_bytes() != original
    restore(cfg, report.folder, with_keys=True)
    assert cfg.keys.oprf_key.read_bytes() == original
    assert stat.S_IMODE(cfg.keys.oprf_key.stat().st_mode) == 0o600


def test_rotate_oprf_prepares_a_key_the_node_switches_to_once_pinned(node_dir: Path,
                                                                     tmp_path: Path) -> None:
    from click.testing import CliRunner

    from node.cli import cli
    from node.directory.identity import oprf_next_path, promote_oprf_key_if_pinned

    cfg = _cfg(node_dir)
    data = tmp_path / "s.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in generate_students("TX", 30, 8)))
    imported = CliRunner().invoke(cli, ["import", "-c", str(cfg.config_path), "--no-progress",
                                        str(data)])
    assert imported.exit_code == 0, imported.output
    with Store(cfg.storage.database) as store:
        first = store.call(discover_tables.latest_filter)
    assert first is not None and first.records == 30  # the import built it
    old = load_keys(cfg).oprf
    assert old is not None
    out = CliRunner().invoke(cli, ["keys", "rotate-oprf", "-c", str(cfg.config_path)])
    assert out.exit_code == 0, out.output
    keys = load_keys(cfg)
    assert keys.oprf == old and keys.oprf_next is not None and keys.oprf_next != old
    assert stat.S_IMODE(oprf_next_path(cfg).stat().st_mode) == 0o600
    info = json.loads(out.output[out.output.index("{"):out.output.rindex("}") + 1])
    import base64
    assert base64.b64decode(info["oprf_key"]) == keys.oprf_next.public  # the one to pin
    assert "discover/v1" in info["features"]
    assert old.private.hex() not in out.output
    assert keys.oprf_next.private.hex() not in out.output
    # the directory still pins the old key: nothing changes
    assert not promote_oprf_key_if_pinned(cfg, keys, old.public)
    # it pins the new one: the node switches, and the filter is rebuilt under it
    assert promote_oprf_key_if_pinned(cfg, keys, keys.oprf_next.public)
    after = load_keys(cfg)
    assert after.oprf == keys.oprf_next and after.oprf_next is None
    assert after.oprf is not None
    with Store(cfg.storage.database) as store:
        done = rebuild(store, node_id="TX", oprf=after.oprf, signing=after.signing)
    assert done.rebuilt and done.version == first.version + 1 and done.evaluated == 30
