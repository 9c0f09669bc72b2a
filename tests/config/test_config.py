"""config/: the example file documents every setting; errors name the file and dotted key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config import ConfigError, load_config
from config.load import parse_duration, parse_size, sections

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "node.example.toml"


def test_example_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.node.id == "TX"
    assert cfg.peers.timeout == 5.0
    assert cfg.storage.database == (ROOT / "node.db").resolve()


def test_every_setting_is_documented_in_example() -> None:
    text = EXAMPLE.read_text()
    for table, cls in sections().items():
        assert f"[{table}]" in text, table
        block = text.split(f"[{table}]", 1)[1].split("\n[", 1)[0]
        for f in dataclasses.fields(cls):
            assert re.search(rf"^#? ?{f.name} = ", block, re.M), f"{table}.{f.name} not in example"
            assert f.metadata["help"] in block, f"{table}.{f.name} help text not in example"


def test_contact_phone_and_email(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, '[node]\nid = "TX"\ncontact_phone = "+1 (512) 555-0100"\n'
                                       'contact_email = "migrant.records@tea.example"\n'))
    assert cfg.node.contact_phone == "+1 (512) 555-0100"
    assert cfg.node.contact_email == "migrant.records@tea.example"
    assert load_config(EXAMPLE).node.contact_phone == ""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "node.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[node]\nid = "TX"\n[peers]\ntimeout = "5 sec"\n',
            'peers.timeout: must be a duration like "5s"',
        ),
        ('[node]\nid = "ZZ"\n', "node.id: must be a USPS state code"),
        ('[node]\nid = "TX"\ncontact_phone = "call me"\n', "node.contact_phone: must be a phone"),
        ('[node]\nid = "TX"\ncontact_phone = "55-12"\n', "node.contact_phone: must be a phone"),
        ('[node]\nid = "TX"\ncontact_phone = 5125550100\n', "node.contact_phone: must be a string"),
        ('[node]\nid = "TX"\ncontact_email = "records at tea"\n',
         "node.contact_email: must be an email address"),
        ('[node]\nid = "TX"\ncontact_email = "a@b"\n', "node.contact_email: must be an email"),
        ("[node]\n", "node.id: is required"),
        ('[node]\nid = "TX"\n[peer]\n', "[peer]: unknown table"),
        ('[node]\nid = "TX"\n[peers]\ntimout = "5s"\n', "peers.timout: unknown setting"),
        ('[node]\nid = "TX"\n[server]\nport = "80"\n', "server.port: must be an integer"),
        ('[node]\nid = "TX"\n[server]\nport = -1\n', "server.port: must not be negative"),
        ('[node]\nid = "TX"\n[web]\nenabled = "yes"\n', "web.enabled: must be true or false"),
        ('[node]\nid = "TX"\n[logging]\nlevel = "loud"\n', "logging.level: must be one of"),
        ('[node]\nid = "TX"\n[directory]\nurls = "http://x"\n', "directory.urls: must be a list"),
        (
            '[node]\nid = "TX"\n[server]\nclient_max_size = "1 GB"\n',
            "server.client_max_size: must be a size",
        ),
        ('[node\nid = "TX"\n', "not valid TOML"),
        ('[node]\nid = "TX"\n[audit]\norigin = "https://tea.example/TX/log"\n',
         "audit.origin: must be a schema-less URL"),
        ('[node]\nid = "TX"\n[audit]\norigin = "tea example"\n',
         "audit.origin: must be 1..200 characters without spaces, '+'"),
        ('[node]\nid = "TX"\n[audit]\nwitness_name = "a+b"\n', "audit.witness_name: must be"),
        ('[node]\nid = "TX"\n[audit]\norigin = "x.example/TX/log"\n'
         'witness_name = "x.example/TX/log"\n', "audit.witness_name: must differ"),
        ('[node]\nid = "TX"\n[audit]\nwitnesses = ["CA", "ZZ"]\n',
         "audit.witnesses: 'ZZ' is not a node id"),
        ('[node]\nid = "TX"\n[audit]\nwitnesses = ["TX"]\n',
         "audit.witnesses: TX is this node itself"),
        ('[node]\nid = "TX"\n[audit]\nwitnesses = ["CA", "CA"]\n',
         "audit.witnesses: a node is listed twice"),
        ('[node]\nid = "TX"\n[audit]\nwitness_for = ["*", "CA"]\n',
         'audit.witness_for: "*" (every active peer) stands alone'),
        ('[node]\nid = "TX"\n[audit]\nwitnesses = ["CA"]\nwitness_quorum = 2\n',
         "audit.witness_quorum: 2 cosignatures can never come from the 1 witness(es)"),
        ('[node]\nid = "TX"\n[audit]\nwitness_quorum = -1\n',
         "audit.witness_quorum: must not be negative"),
        ('[node]\nid = "TX"\n[keys]\nwitness_key = "keys/signing.pem"\n',
         "keys.witness_key: must be another file than keys.signing_key"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_toml_error_gives_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[node]\nid = "TX"\nname = \n')
    with pytest.raises(ConfigError, match="line 3"):
        load_config(path)


def test_relative_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, '[node]\nid = "CA"\n[storage]\ndatabase = "data/ca.db"\n')
    assert load_config(path).storage.database == (tmp_path / "data/ca.db").resolve()


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, '[node]\nid = "CA"\n'))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.node.id = "TX"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "secs"), [("500ms", 0.5), ("5s", 5), ("10m", 600), ("1h", 3600), ("7d", 604800)]
)
def test_durations(raw: str, secs: float) -> None:
    assert parse_duration(raw) == secs


def test_sizes() -> None:
    assert parse_size("64KiB") == 65536
    assert parse_size(10) == 10
    with pytest.raises(ConfigError):
        parse_size(True)


def test_log_origin_and_witness_name(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, '[node]\nid = "TX"\n'))
    assert (cfg.log_origin, cfg.witness_name) == ("TX", "TX/witness")  # before the migration
    assert (cfg.audit.witnesses, cfg.audit.witness_for, cfg.audit.witness_quorum) == (
        ("*",), ("*",), 1)
    cfg = load_config(_write(tmp_path, '[node]\nid = "TX"\n[audit]\n'
                             'origin = "statenode.tea.example/TX/log"\n'
                             'witnesses = ["CA", "NM"]\nwitness_quorum = 2\n'))
    assert cfg.log_origin == "statenode.tea.example/TX/log"
    assert cfg.witness_name == "statenode.tea.example/TX/witness"
    assert cfg.audit.witnesses == ("CA", "NM")
