"""Mutual TLS between real node processes, pinned by the signed directory
(node.directory.tls_pinning).

TX and CA run https listeners with `require_client_cert = true` and are enrolled
with the SPKI pins of their certificates: a federated find between them works.
FL runs TLS too but its directory entry pins another key than the one its
certificate holds: TX refuses to talk to it (pin mismatch before sending) and
FL's own requests to TX are refused (its certificate is never trusted).
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crypto.tls import generate_self_signed
from tests.integration.harness import Federation, child

pytestmark = pytest.mark.integration

ANA = child("TX900003", "Ana", "Ruiz", "Soto", "2011-05-06")
CA_ANA = child("CA700003", "Ana", "Ruiz", "Soto", "2011-05-06")


def _insecure() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


class TlsFederation(Federation):
    """A Federation whose nodes serve https with `statenode tls init` certificates."""

    wrong_pin: tuple[str, ...] = ()

    def create(self) -> TlsFederation:
        from config import load_config
        from node.authority.registry import Authority
        from node.authority.settings import init_authority
        from node.importing.importer import import_files
        from node.ops.demo import free_port
        from node.ops.node_folder import node_info, write_node
        from node.store.database import Store
        from protocol.directory import NodeInfo

        dir_port = free_port()
        cfg_path, self.authority_key = init_authority(self.root / "directory")
        text = cfg_path.read_text().replace("port = 0", f"port = {dir_port}")
        cfg_path.write_text(text.replace('reissue_before = "2d"', 'reissue_before = "1s"'))
        authority = Authority.open(cfg_path)
        for state in self.states:
            port = free_port()
            path = write_node(self.node_dir(state), state=state, name=f"{state} MEP",
                              endpoint=f"https://127.0.0.1:{port}",
                              directory_urls=(f"http://127.0.0.1:{dir_port}",),
                              authority_key=base64.b64encode(self.authority_key).decode())
            self.cli("tls", "init", "-c", str(path))
            text = path.read_text().replace(
                "[keys]", 'tls_cert = "tls/cert.pem"\ntls_key = "tls/key.pem"\n'
                          "require_client_cert = true\n\n[keys]")
            path.write_text(text + '\n[peers]\ntimeout = "3s"\nbackoff_initial = "1s"\n'
                            'backoff_max = "2s"\n[exchange]\nmax_clock_skew = "30s"\n')
            data = self.node_dir(state) / "records.jsonl"
            data.write_text("".join(json.dumps(r) + "\n" for r in self.extra_records[state]))
            with Store(load_config(path).storage.database) as store:
                import_files(store, [data], owner_state=state, progress=False)
            info = node_info(str(path))
            assert len(str(info["tls_cert_sha256"])) == 64
            if state in self.wrong_pin:  # enroll the pin of a key this node does not use
                other = self.node_dir(state) / "other"
                other.mkdir()
                pin = generate_self_signed(other / "k.pem", other / "c.pem", f"statenode {state}")
                info["tls_cert_sha256"] = pin.hex()
            authority.enroll(NodeInfo.from_json(json.dumps(info)))
        return self

    def control(self, state: str, path: str, payload: dict[str, Any] | None = None,
                timeout: float = 60.0) -> Any:
        ctl = json.loads((self.node_dir(state) / "control.json").read_text())
        assert ctl["url"].startswith("https://")
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(ctl["url"] + path, data=data,
                                     headers={"Authorization": f"Bearer {ctl['token']}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout, context=_insecure()) as resp:
            body = resp.read().decode()
        if path.endswith("/find"):
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        return json.loads(body)


def test_mutual_tls_pinned_by_the_directory(tmp_path: Path) -> None:
    fed = TlsFederation(tmp_path, ["TX", "CA", "FL"],
                        extra_records={"TX": [ANA], "CA": [CA_ANA], "FL": []})
    fed.wrong_pin = ("FL",)
    fed.create().start()
    try:
        for state in ("TX", "CA", "FL"):
            fed.run_job(state, "tls_peers")
        answers, summary = fed.find("TX", first_name="Ana", last_name_1="Ruiz",
                                    birth_date="2011-05-06")
        assert "CA" in summary["answered"], summary
        assert answers["CA"]["candidates"], answers["CA"]
        # FL's certificate does not match its pin: TX refuses before sending anything
        assert "FL" in summary["failed"], summary
        assert "does not match its directory pin" in summary["failed"]["FL"]
        # CA → TX works the other way too
        _, summary = fed.find("CA", first_name="Ana", last_name_1="Ruiz")
        assert "TX" in summary["answered"], summary
        # FL → TX: TX never trusted FL's certificate, so the handshake is refused
        _, summary = fed.find("FL", first_name="Ana", last_name_1="Ruiz")
        assert "TX" in summary["failed"] and "CA" in summary["failed"], summary
        assert not summary["answered"]
        # a client without a certificate gets a defined 403 from the exchange endpoint
        req = urllib.request.Request(fed.nodes["TX"].url + "/federation/v1/exchange",
                                     data=b"\x85\xa1v\x01\xa4type\xa4find\xa4from\xa2CA"
                                          b"\xa2to\xa2TX\xa6sealed\xc4\x01x",
                                     headers={"Content-Type": "application/msgpack"})
        try:
            urllib.request.urlopen(req, timeout=10, context=_insecure())
            status = 200
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        assert status == 403 and b"mutual TLS is required" in body
    finally:
        fed.stop()
