"""`statenode audit verify / cross-check` on exports of real, in-process exchange logs."""

from __future__ import annotations

import base64
import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto.keys import generate_signing_key
from node.audit.cosigning import apply_cosign_reply, build_cosign_request, cosign_peer_checkpoint
from node.audit.exchange_log import ExchangeLog
from node.cli import cli
from tests.node.auditlog_helpers import Federation, exchange


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """TX and CA exchange 6 finds; CA cosigns TX's checkpoint; both export."""
    tmp = tmp_path_factory.mktemp("audit")
    fed = Federation()
    logs = {n: fed.open_log(tmp, n) for n in ("TX", "CA")}
    for i in range(4):
        exchange(fed, logs, "TX", "CA", i)
    logs["TX"].sign_checkpoint()
    req = build_cosign_request(logs["TX"], peer="CA")
    reply = cosign_peer_checkpoint(logs["CA"], "TX", [fed.signing["TX"].public], req)
    apply_cosign_reply(logs["TX"], "CA", [fed.signing["CA"].public], reply)
    for i in range(4, 6):
        exchange(fed, logs, "CA", "TX", i)
    snap = fed.snapshot()
    out = {}
    for n, log in logs.items():
        log.sign_checkpoint()
        log.export(tmp / f"export-{n}", snap, fed.authority.public)
        out[n] = tmp / f"export-{n}"
        log.close()
    witness = logs["CA"].cosigner.verifier().vkey()
    return {"fed": fed, "tmp": tmp, "exports": out, "witness": witness, "snap": snap}


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["audit", *args])
    return res.exit_code, res.output


def copy(world: dict[str, object], node: str, tmp_path: Path) -> Path:
    dst = tmp_path / f"copy-{node}"
    shutil.copytree(world["exports"][node], dst)  # type: ignore[index]
    return dst


def test_exports_verify(world: dict[str, object]) -> None:
    for node in ("TX", "CA"):
        code, out = run("verify", str(world["exports"][node]))  # type: ignore[index]
        assert code == 0, out
        assert "OK: 12 entries verify" in out
    auth = base64.b64encode(world["fed"].authority.public).decode()  # type: ignore[attr-defined]
    code, out = run("verify", str(world["exports"]["TX"]), "--witness-key",  # type: ignore[index]
                    str(world["witness"]), "--authority-key", auth)
    assert code == 0, out


def test_witness_missing_is_reported(world: dict[str, object]) -> None:
    # CA's export was never cosigned by TX
    from crypto.checkpoint import CosignatureSigner
    vkey = CosignatureSigner("TX", world["fed"].signing["TX"]).verifier().vkey()  # type: ignore[attr-defined]
    code, out = run("verify", str(world["exports"]["CA"]), "--witness-key", vkey)  # type: ignore[index]
    assert code == 1
    assert "witness TX: no checkpoint in the export carries a valid cosignature" in out


FILES = ("entries.jsonl", "checkpoint", "checkpoints", "verifier-key", "directory.msgpack",
         "authority-key")


@pytest.mark.parametrize("name", FILES)
def test_any_flipped_byte_fails(world: dict[str, object], tmp_path: Path, name: str) -> None:
    dst = copy(world, "TX", tmp_path)
    original = (dst / name).read_bytes()
    rng = random.Random(name)
    sample = rng.sample(range(len(original)), min(40, len(original)))
    positions = sorted({*sample, 0, len(original) - 1})
    for pos in positions:
        data = bytearray(original)
        data[pos] ^= 0x01
        (dst / name).write_bytes(bytes(data))
        code, out = run("verify", str(dst))
        assert code == 1, f"flipping byte {pos} of {name} went unnoticed"
        assert out.strip(), "verify failed without saying why"
    (dst / name).write_bytes(original)
    assert run("verify", str(dst))[0] == 0


def test_flipped_leaf_field_names_the_entry(world: dict[str, object], tmp_path: Path) -> None:
    dst = copy(world, "TX", tmp_path)
    lines = (dst / "entries.jsonl").read_text().splitlines()
    row = json.loads(lines[5])
    row["time_ms"] += 1
    lines[5] = json.dumps(row, separators=(",", ":"))
    (dst / "entries.jsonl").write_text("\n".join(lines) + "\n")
    code, out = run("verify", str(dst))
    assert code == 1
    assert "entry 5: decoded field(s) time_ms differ from the leaf bytes" in out


def _rewrite_entries(dst: Path, fn) -> None:  # type: ignore[no-untyped-def]
    lines = (dst / "entries.jsonl").read_text().splitlines()
    (dst / "entries.jsonl").write_text("\n".join(fn(lines)) + "\n")


def test_deleted_entry_fails(world: dict[str, object], tmp_path: Path) -> None:
    dst = copy(world, "TX", tmp_path)
    _rewrite_entries(dst, lambda ls: ls[:3] + ls[4:])
    code, out = run("verify", str(dst))
    assert code == 1
    assert "entries.jsonl line 4: index is 4 but the line holds entry 3" in out
    assert "checkpoint: covers 12 entries but the export has 11" in out


def test_reordered_entries_fail(world: dict[str, object], tmp_path: Path) -> None:
    dst = copy(world, "TX", tmp_path)
    _rewrite_entries(dst, lambda ls: [ls[1], ls[0], *ls[2:]])
    code, out = run("verify", str(dst))
    assert code == 1
    assert "entries.jsonl line 1: index is 1 but the line holds entry 0" in out
    # renumbering does not help: the tree root no longer matches
    def renumber(ls: list[str]) -> list[str]:
        rows = [json.loads(x) for x in ls]
        rows[0], rows[1] = rows[1], rows[0]
        for i, r in enumerate(rows):
            r["index"] = i
        return [json.dumps(r) for r in rows]
    dst2 = copy(world, "TX", tmp_path / "b")
    _rewrite_entries(dst2, renumber)
    code, out = run("verify", str(dst2))
    assert code == 1
    assert "the first 12 entries do not hash to its root" in out


def test_checkpoint_signed_by_another_key_fails(world: dict[str, object],
                                                tmp_path: Path) -> None:
    fed: Federation = world["fed"]  # type: ignore[assignment]
    dst = copy(world, "TX", tmp_path)
    impostor = ExchangeLog(tmp_path / "impostor.db", generate_signing_key(), "TX")
    note = impostor.sign_checkpoint()
    impostor.close()
    (dst / "checkpoint").write_text(note)
    code, out = run("verify", str(dst))
    assert code == 1
    assert "checkpoint: not validly signed by the log key TX" in out
    # replacing the verifier key too is caught by the directory
    from crypto.note import NoteSigner
    impostor_key = generate_signing_key()
    log = ExchangeLog(tmp_path / "impostor2.db", impostor_key, "TX")
    (dst / "checkpoint").write_text(log.sign_checkpoint())
    log.close()
    (dst / "verifier-key").write_text(NoteSigner("TX", impostor_key).verifier().vkey() + "\n")
    code, out = run("verify", str(dst))
    assert code == 1
    assert "verifier-key: is not the signing key of TX in the directory" in out
    assert fed.signing["TX"].public != impostor_key.public


def test_history_rewrite_after_witness_cosigned(world: dict[str, object],
                                                tmp_path: Path) -> None:
    """TX rebuilds its log with entry 2 dropped and re-signs: a witness catches it."""
    fed: Federation = world["fed"]  # type: ignore[assignment]
    src = world["exports"]["TX"]  # type: ignore[index]
    from protocol.audit import LogEntry, parse_line
    lines = (Path(src) / "entries.jsonl").read_text().splitlines()
    entries = [LogEntry.from_leaf(parse_line(x, i).leaf) for i, x in enumerate(lines, 1)]
    forged = ExchangeLog(tmp_path / "forged.db", fed.signing["TX"], "TX")
    for e in entries[:2] + entries[3:]:
        forged.append_sync(e)
    forged.sign_checkpoint()
    out_dir = tmp_path / "forged-export"
    forged.export(out_dir, world["snap"], fed.authority.public)  # type: ignore[arg-type]
    forged.close()
    code, out = run("verify", str(out_dir), "--witness-key", str(world["witness"]))
    assert code == 1
    assert "witness CA: no checkpoint in the export carries a valid cosignature" in out
    # carrying over the old cosigned checkpoint shows the rewrite itself
    shutil.copy(Path(src) / "checkpoints", out_dir / "checkpoints")
    code, out = run("verify", str(out_dir), "--witness-key", str(world["witness"]))
    assert code == 1
    assert "(cosigned by CA) does not match entries 0..7: the log's history was rewritten" in out


def test_witness_refuses_rewritten_history(world: dict[str, object], tmp_path: Path) -> None:
    from node.audit.cosigning import LogRewriteDetected
    fed = Federation()
    logs = {n: fed.open_log(tmp_path, n) for n in ("TX", "CA")}
    for i in range(3):
        exchange(fed, logs, "TX", "CA", i)
    logs["TX"].sign_checkpoint()
    reply = cosign_peer_checkpoint(logs["CA"], "TX", [fed.signing["TX"].public],
                                   build_cosign_request(logs["TX"], 0))
    apply_cosign_reply(logs["TX"], "CA", [fed.signing["CA"].public], reply)
    forged = ExchangeLog(tmp_path / "forged.db", fed.signing["TX"], "TX")
    for i in range(1, logs["TX"].size + 2):
        forged.append_sync(logs["TX"].entry(i % logs["TX"].size))
    forged.sign_checkpoint()
    req = build_cosign_request(forged, logs["TX"].cosigned_size("CA"))
    with pytest.raises(LogRewriteDetected, match="TX rewrote its exchange log"):
        cosign_peer_checkpoint(logs["CA"], "TX", [fed.signing["TX"].public], req)
    assert "not consistent" in logs["CA"].alerts()[0]["message"]
    for log in (*logs.values(), forged):
        log.close()


def test_cross_check(world: dict[str, object], tmp_path: Path) -> None:
    ex = world["exports"]  # type: ignore[index]
    code, out = run("cross-check", str(ex["TX"]), str(ex["CA"]))
    assert code == 0, out
    fed = Federation(seed=40)
    logs = {n: fed.open_log(tmp_path, n) for n in ("TX", "CA")}
    exchange(fed, logs, "TX", "CA", 1)
    exchange(fed, logs, "TX", "CA", 2, drop_on="CA")
    snap = fed.snapshot()
    for n, log in logs.items():
        log.sign_checkpoint()
        log.export(tmp_path / n, snap, fed.authority.public)
        log.close()
    code, out = run("cross-check", str(tmp_path / "TX"), str(tmp_path / "CA"))
    assert code == 1
    assert "logged by TX (entry 2, out) but not by CA" in out
    assert out.count("but not by") == 1


def test_verify_reports_missing_files(tmp_path: Path) -> None:
    code, out = run("verify", str(tmp_path))
    assert code == 1
    assert "checkpoint: missing from the export folder" in out


def test_parallel_signature_checks_find_what_one_process_finds(tmp_path: Path) -> None:
    """`audit verify --jobs 2` (forked workers inheriting the leaves) reports the same
    problems as `--jobs 1` on an export of 10,000 entries with one forged signature."""
    from crypto import merkle
    from crypto.checkpoint import Checkpoint, sign_checkpoint
    from crypto.note import NoteSigner
    from node.audit.export_files import verify_folder
    from protocol.audit import LogEntry, entry_line
    from tests.node.auditlog_helpers import FIND, entry_for, seal

    fed = Federation()
    base = [entry_for(seal(fed, *(("TX", "CA") if i % 2 else ("CA", "TX")), FIND), "TX")
            for i in range(50)]
    entries = [dataclasses_replace(base[i % 50], time_ms=base[i % 50].time_ms + i)
               for i in range(10_000)]
    bad = entries[7777]
    entries[7777] = dataclasses_replace(bad, signature=bytes(64))
    leaves = [e.to_leaf() for e in entries]
    out = tmp_path / "export"
    out.mkdir()
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(x) for x in leaves])
    signer = NoteSigner("TX", fed.signing["TX"])
    (out / "checkpoint").write_text(sign_checkpoint(Checkpoint("TX", len(leaves), root),
                                                    [signer]))
    (out / "verifier-key").write_text(signer.verifier().vkey() + "\n")
    (out / "directory.msgpack").write_bytes(fed.snapshot())
    (out / "authority-key").write_text(base64.b64encode(fed.authority.public).decode() + "\n")
    (out / "entries.jsonl").write_text("".join(
        entry_line(i, leaf, LogEntry.from_leaf(leaf)) + "\n" for i, leaf in enumerate(leaves)))
    one = [str(p) for p in verify_folder(out, jobs=1)]
    two = [str(p) for p in verify_folder(out, jobs=2)]
    assert one == two and len(one) == 1 and one[0].startswith("entry 7777: sender signature")
    code, text = run("verify", str(out))  # --jobs: every core by default
    assert code == 1 and "entry 7777" in text


def dataclasses_replace(obj, **changes):  # type: ignore[no-untyped-def]
    import dataclasses
    return dataclasses.replace(obj, **changes)
