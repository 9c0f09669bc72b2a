"""Our exports and receipts verified by Go's golang.org/x/mod/sumdb/note and
golang.org/x/mod/sumdb/tlog (tests/interop/verify_export.go), code nobody on this
project wrote: the checkpoint note (C2SP signed note, Ed25519, with a witness
cosignature the Go verifier must ignore), the RFC 9162 tree hash of every entry, and a
tlog-proof receipt's inclusion proof.

Needs `go` and Debian's golang-golang-x-mod-dev (`.ci/run` installs both); it builds in
GOPATH mode, offline (GO111MODULE=off, GOPATH with /usr/share/gocode). Without go the
test fails with a message saying so: it never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from node.audit.cosigning import apply_cosignatures, submission
from node.audit.exchange_log import ExchangeLog
from node.audit.witness import add_checkpoint, known_logs
from tests.node.auditlog_helpers import Federation, exchange

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "verify_export.go"
GOCODE = Path("/usr/share/gocode")
ORIGIN = "statenode.tea.example/TX/log"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go interop test needs `go` on PATH (Debian: apt-get install golang-go "
                    "golang-golang-x-mod-dev; .ci/run installs them)")
    if not (GOCODE / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.fail(f"golang.org/x/mod is not in {GOCODE} (Debian: apt-get install "
                    "golang-golang-x-mod-dev)")
    return go


def run_go(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOPROXY="off", GOTOOLCHAIN="local",
               GOPATH=f"{tmp / 'gopath'}:{GOCODE}", GOCACHE=str(tmp / "gocache"),
               HOME=str(tmp))
    return subprocess.run([_go(), "run", str(PROGRAM), *args], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=300, check=False)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A fresh export of a log with 9 exchanges (18 entries), its checkpoint cosigned by a
    witness, and a receipt for entry 5."""
    tmp = tmp_path_factory.mktemp("go-interop")
    fed = Federation()
    log = ExchangeLog(tmp / "tx.db", fed.signing["TX"], ORIGIN, node_id="TX")
    witness = ExchangeLog(tmp / "ca.db", fed.signing["CA"], "CA")
    for i in range(9):
        exchange(fed, {"TX": log}, "TX", "CA", i)
    log.sign_checkpoint()
    body = submission(log, witness.cosigner.name)
    logs = {k.origin: k for k in known_logs("TX", (ORIGIN, "TX"), (fed.signing["TX"].public,))}
    answer = add_checkpoint(witness, body, logs.get, witness.cosigner)
    assert answer.ok, answer
    apply_cosignatures(log, body, answer.body, witness.cosigner.verifier())
    out = tmp / "export"
    log.export(out, fed.snapshot(), fed.authority.public)
    receipt = tmp / "receipt"
    receipt.write_text(log.receipt(5))
    log.close()
    witness.close()
    assert "\u2014 CA " in (out / "checkpoint").read_text()  # a cosignature Go must ignore
    return tmp, out, receipt


def test_go_verifies_the_export_and_the_receipt(export: tuple[Path, Path, Path]) -> None:
    tmp, out, receipt = export
    result = run_go(tmp, str(out), str(receipt))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"checkpoint: {ORIGIN} size 18, signed by {ORIGIN} (1 other")
    assert lines[1].startswith("tree: 18 entries hash to the checkpoint's root")
    assert lines[2] == "receipt: entry 5 is in the tree of size 18 (5 proof hashes)"
    assert lines[-1] == "OK"


def test_go_refuses_a_changed_entry_and_a_bad_proof(export: tuple[Path, Path, Path]) -> None:
    tmp, out, receipt = export
    changed = tmp / "changed"
    shutil.copytree(out, changed)
    lines = (changed / "entries.jsonl").read_text().splitlines()
    entry = json.loads(lines[3])
    entry["leaf"] = json.loads(lines[4])["leaf"]  # entry 3's leaf replaced by entry 4's
    lines[3] = json.dumps(entry)
    (changed / "entries.jsonl").write_text("\n".join(lines) + "\n")
    result = run_go(tmp, str(changed), str(receipt))
    assert result.returncode == 1 and "is not the checkpoint's root" in result.stderr
    text = receipt.read_text()
    head, note = text.split("\n\n", 1)
    proof = head.split("\n")
    proof[3] = proof[4]  # a wrong hash in the inclusion proof
    bad = tmp / "bad-receipt"
    bad.write_text("\n".join(proof) + "\n\n" + note)
    result = run_go(tmp, str(out), str(bad))
    assert result.returncode == 1 and "tlog.CheckRecord" in result.stderr
    forged = tmp / "forged"
    shutil.copytree(out, forged, dirs_exist_ok=True)
    cp = (forged / "checkpoint").read_text().replace("\n18\n", "\n17\n", 1)
    (forged / "checkpoint").write_text(cp)
    result = run_go(tmp, str(forged), str(receipt))
    assert result.returncode == 1 and "note.Open" in result.stderr
