"""A federation of this release and the previous one, with real processes (DESIGN.md
"Upgrades"): the previous release's code is taken from git (harness.PREVIOUS_RELEASE)
and runs FL and NM; TX and CA run this release; the authority runs this release (it is
upgraded first: it serves the directory in both versions).

1. Mixed: FL (old) and TX (new) find each other's children over X25519 in version 1
   envelopes, TX and CA over MLKEM768-X25519 in version 2; the old node witnesses with
   its `cosign` message and is witnessed the same way; exports verify.
2. Upgrade on data made by the previous release: NM's folder (keys, node.db, exchange log
   with checkpoints and cosignatures, witnessed state) was written by the old code; it is
   restarted with this release and a configured origin. Its keys gain the hybrid ring and
   the witness key, its exchange log is migrated (checkpoints by origin), it is enrolled
   again with its new node info, then talks hybrid to TX and X25519 to FL, its witnesses
   carry on from the old origin, and its export — old-origin checkpoints included —
   verifies.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.audit import decode_leaf
from protocol.envelope import Header
from tests.integration.harness import (
    GUADALUPE_CA,
    GUADALUPE_TX,
    Federation,
    child,
    previous_release,
)

pytestmark = pytest.mark.integration

GUADALUPE = {"first_name": "Guadalupe", "last_name_1": "Hernandez", "last_name_2": "Lopez",
             "birth_date": "2009-03-04", "sex": "F", "purpose": "enrollment"}
ROSA_FL = child("FL500001", "Rosa", "Martínez", "Vega", "2010-07-15")
ROSA = {"first_name": "Rosa", "last_name_1": "Martinez", "last_name_2": "Vega",
        "birth_date": "2010-07-15", "sex": "F", "purpose": "enrollment"}
NM_ORIGIN = "statenode.ped.example/NM/log"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root: Path = tmp_path_factory.mktemp("mixed")
    old = previous_release(root / "previous-release")
    fed = Federation(root, ["TX", "CA", "FL", "NM"], old_states=("FL", "NM"), old_code=old,
                     extra_records={"TX": [GUADALUPE_TX], "CA": [GUADALUPE_CA],
                                    "FL": [ROSA_FL]})
    fed.create().start()
    yield fed
    fed.stop()


def _exchanges(fed: Federation, state: str, peer: str) -> list[Header]:
    """The signed headers of `state`'s logged exchanges with `peer` (via an export)."""
    out = fed.root / f"export-{state}-{peer}"
    fed.cli("audit", "export", "-c", str(fed.config(state)), str(out),
            code=fed.code_of(state))
    headers = []
    for line in (out / "entries.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["peer"] == peer:
            leaf = decode_leaf(base64.b64decode(entry["leaf"]))
            assert not isinstance(leaf, str)
            headers.append(Header.decode(leaf.header_bytes))
    return headers


def test_old_and_new_nodes_interoperate(mixed: Federation, tmp_path: Path) -> None:
    # the old node finds a child in TX and one in CA; TX finds FL's child
    answers, summary = mixed.find("FL", **GUADALUPE)
    assert set(summary["answered"]) == {"TX", "CA", "NM"}, summary
    assert answers["TX"]["candidates"], answers
    answers, summary = mixed.find("TX", **ROSA)
    assert set(summary["answered"]) == {"CA", "FL", "NM"}, summary
    assert answers["FL"]["candidates"][0]["outcome"] == "match"
    with_fl = _exchanges(mixed, "TX", "FL")
    assert with_fl and all((h.version, h.suite) == (1, "x25519-sha256-chacha20poly1305")
                           for h in with_fl)
    with_ca = _exchanges(mixed, "TX", "CA")
    assert with_ca and all((h.version, h.suite) == (2, "mlkem768x25519-sha256-chacha20poly1305")
                           for h in with_ca)
    # witnessing across releases
    for state in ("TX", "FL", "CA"):
        result = mixed.run_job(state, "cosign")
        assert result["ok"], result
        assert "failed" not in result["result"], result
    tx_out = tmp_path / "tx"
    mixed.cli("audit", "export", "-c", str(mixed.config("TX")), str(tx_out))
    note = (tx_out / "checkpoint").read_text()
    assert note.startswith("127.0.0.1/TX/log\n")
    out = mixed.cli("audit", "verify", str(tx_out), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    history = [json.loads(ln)["note"] for ln in (tx_out / "checkpoints").read_text().splitlines()]
    # FL cosigned TX's checkpoint under TX's legacy origin, the only one it knows
    assert any(n.startswith("TX\n") and "\n— FL " in n for n in history), history
    # CA cosigned with its witness key, under TX's configured origin
    assert any(n.startswith("127.0.0.1/TX/log\n") and "\n— 127.0.0.1/CA/witness " in n
               for n in history), history
    fl_out = tmp_path / "fl"
    mixed.cli("audit", "export", "-c", str(mixed.config("FL")), str(fl_out),
              code=mixed.code_of("FL"))
    out = mixed.cli("audit", "verify", str(fl_out), check=False)  # this release verifies it
    assert out.returncode == 0, out.stdout + out.stderr
    fl_history = (fl_out / "checkpoints").read_text()
    assert "\\n\\u2014 TX " in fl_history  # TX cosigned FL's checkpoint (as the old one expects)
    out = mixed.cli("audit", "verify", str(fl_out), check=False, code=mixed.code_of("FL"))
    assert out.returncode == 0, out.stdout + out.stderr  # and the old release still does


def test_a_node_of_the_previous_release_upgrades_in_place(mixed: Federation,
                                                          tmp_path: Path) -> None:
    # NM runs the old code and builds up state: exchanges, checkpoints, cosignatures
    mixed.find("NM", **GUADALUPE)
    for state in ("NM", "TX"):
        assert mixed.run_job(state, "cosign")["ok"]
    log_db = mixed.node_dir("NM") / "exchange-log.db"
    with sqlite3.connect(log_db) as db:
        before = db.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        assert "origin" not in [r[1] for r in db.execute("PRAGMA table_info(checkpoints)")]
    assert before and before[-1][1].startswith("NM\n")
    keys = mixed.node_dir("NM") / "keys"
    assert not (keys / "witness.pem").exists()
    assert not (keys / "encryption" / "hybrid.json").exists()

    # upgrade: stop, switch the code, configure an origin, start, enroll the new node info
    mixed.nodes["NM"].stop()
    mixed.upgraded.add("NM")
    with mixed.config("NM").open("a") as f:
        f.write(f'[audit]\norigin = "{NM_ORIGIN}"\n')
    mixed.start_node("NM")
    assert (keys / "witness.pem").stat().st_mode & 0o077 == 0
    assert json.loads((keys / "encryption" / "hybrid.json").read_text())
    with sqlite3.connect(log_db) as db:
        rows = db.execute("SELECT origin, size, note FROM checkpoints ORDER BY size").fetchall()
    assert [(o, s, n) for o, s, n in rows if o == "NM"] == [("NM", s, n) for s, n in before]
    with sqlite3.connect(mixed.node_dir("NM") / "node.db") as db:  # store migration m005
        students, norms = db.execute("SELECT count(*), count(match_norm) FROM students"
                                     ).fetchone()
    assert students == norms > 0  # backfilled for every record the old release stored
    info = tmp_path / "nm-info.json"
    info.write_text(mixed.cli("keys", "show", "--json", "-c", str(mixed.config("NM"))).stdout)
    assert json.loads(info.read_text())["log_origin"] == NM_ORIGIN
    mixed.cli("directory", "enroll", "--replace", "-c", str(mixed.directory_config), str(info))
    for state in mixed.states:
        assert mixed.run_job(state, "directory_refresh")["ok"]

    # the upgraded node talks hybrid to TX and X25519 to FL, and FL still reaches it
    _, summary = mixed.find("NM", **ROSA)
    assert set(summary["answered"]) == {"TX", "CA", "FL"}, summary
    _, summary = mixed.find("FL", **GUADALUPE)
    assert "NM" in summary["answered"], summary
    nm_tx = [h for h in _exchanges(mixed, "NM", "TX") if h.sender == "NM"]
    assert (nm_tx[-1].version, nm_tx[-1].suite) == (2, "mlkem768x25519-sha256-chacha20poly1305")
    nm_fl = [h for h in _exchanges(mixed, "NM", "FL") if h.sender == "NM"]
    assert (nm_fl[-1].version, nm_fl[-1].suite) == (1, "x25519-sha256-chacha20poly1305")

    # witnesses carry on: TX and CA from NM's old origin, FL under the old origin
    result = mixed.run_job("NM", "cosign")
    assert result["ok"], result
    outcomes = result["result"]
    for peer in ("TX", "CA", "FL"):
        assert f"'{peer}': 'cosigned'" in outcomes, outcomes
    out = tmp_path / "nm"
    mixed.cli("audit", "export", "-c", str(mixed.config("NM")), str(out))
    assert (out / "checkpoint").read_text().startswith(NM_ORIGIN + "\n")
    history = [json.loads(ln)["note"] for ln in (out / "checkpoints").read_text().splitlines()]
    assert any(n.startswith("NM\n") for n in history)  # the old origin's, still there
    verified = mixed.cli("audit", "verify", "--min-witnesses", "2", str(out), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
