"""`statenode demo`: a directory and one node per state on loopback, with synthetic children.

First run (or a new `--dir`): create the authority, one node per state on free
loopback ports, synthetic records (a share of the children present in two or
three states, with realistic differences) plus the demo children of
`node.importing.demo_children` (always the same, whatever the seed), import them,
enroll every node, create one web user per role in each state. Every run: start the
directory and the nodes as child processes, print one line per service with its URL,
the logins, then two ready `statenode find` commands that find the demo children, and
on Ctrl-C stop them all. A second run with the same `--dir` reuses everything.
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.errors import BadRequest, NodeError
from node.file_modes import open_private, private_dir

ROLES = ("staff", "data_admin", "auditor", "operator")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with open_private(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def synthetic_states(states: list[str], count: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Records per state; after the first state, ~30% of each state's children come from
    earlier states (so some children are in two or three states)."""
    from node.importing.synthetic import derive_overlap, generate_students

    out: dict[str, list[dict[str, Any]]] = {}
    for i, state in enumerate(states):
        if i == 0:
            out[state] = generate_students(state, count, seed)
            continue
        shared: list[dict[str, Any]] = []
        per_source = 0.3 / i
        for j, earlier in enumerate(states[:i]):
            derived = derive_overlap(out[earlier], state, per_source, seed + 101 * i + j)
            shared.extend(rec for rec, _source in derived)
        own = generate_students(state, max(0, count - len(shared)), seed + i)
        out[state] = own + shared
    return out


def _demo_settings(path: Path, state: str) -> None:
    """A demo node's contact (fictional 555 numbers) and the example searches on its
    staff home page."""
    text = path.read_text()
    text = text.replace(f'id = "{state}"\n', f'id = "{state}"\n'
                        'contact_phone = "+1 555 0100"\n'
                        f'contact_email = "migrant.records@{state.lower()}.example"\n', 1)
    path.write_text(text + "\n[web]\ndemo_examples = true\n")


def create(folder: Path, states: list[str], count: int, seed: int, password: str | None,
           say: Callable[[str], None]) -> dict[str, Any]:
    from config import load_config
    from node.authority.registry import Authority
    from node.authority.settings import init_authority
    from node.importing.importer import import_files
    from node.ops.node_folder import node_info, write_node
    from node.store.database import Store
    from protocol.directory import NodeInfo

    if password:  # refuse a weak --password before anything is created
        for role in ROLES:
            demo_password(role, password)
    private_dir(folder, tighten=True)
    dir_port = free_port()
    cfg_path, authority_key = init_authority(folder / "directory", name="demo federation")
    text = cfg_path.read_text()
    cfg_path.write_text(text.replace("port = 0", f"port = {dir_port}"))
    dir_url = f"http://127.0.0.1:{dir_port}"
    say(f"created directory authority in {folder / 'directory'}")
    from node.importing.demo_children import planted

    records = synthetic_states(states, count, seed)
    for state, children in planted(states).items():
        records[state] = records[state] + children
    authority = Authority.open(cfg_path)
    users: dict[str, dict[str, str]] = {}
    for state in states:
        port = free_port()
        node_dir = folder / state
        path = write_node(node_dir, state=state, name=f"{state} migrant education",
                          endpoint=f"http://127.0.0.1:{port}", directory_urls=(dir_url,),
                          authority_key=base64.b64encode(authority_key).decode())
        _demo_settings(path, state)
        data = node_dir / "demo-records.jsonl"
        _write_jsonl(data, records[state])
        cfg = load_config(path)
        with Store(cfg.storage.database) as store:
            report = import_files(store, [data], owner_state=state, progress=False)
        authority.enroll(NodeInfo.from_json(json.dumps(node_info(str(path)))))
        say(f"created node {state}: {report.result.inserted} students imported")
        users[state] = {}
        for role in ROLES:
            pw = demo_password(role, password)
            pw_file = node_dir / f".pw-{role}"
            with open_private(pw_file, "w") as f:
                f.write(pw)
            _run_cli(["users", "add", "-c", str(path), role, "--role", role,
                      "--password-file", str(pw_file)])
            pw_file.unlink()
            users[state][role] = pw
    manifest = {"states": states, "directory_url": dir_url, "users": users}
    manifest_path = folder / "demo.json"
    with open_private(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def demo_password(role: str, given: str | None = None) -> str:
    """The given password if the node's rules accept it for user `role` (BadRequest if
    not), else a random one that they accept (12 characters, shown by the demo)."""
    from node.store import accounts
    if given:
        try:
            accounts.check_password(given, role)
        except BadRequest as exc:
            raise BadRequest(f"--password for the demo user {role!r}: {exc}") from None
        return given
    while True:
        candidate = secrets.token_urlsafe(9)
        try:
            accounts.check_password(candidate, role)
        except BadRequest:
            continue
        return candidate


def _run_cli(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise NodeError(f"statenode {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def start(args: list[str], name: str, log_file: Path, timeout: float = 30.0,
          ) -> tuple[subprocess.Popen[str], str]:
    """Start `python -m node ARGS` (stderr to `log_file`); wait for `listening on URL`."""
    with open_private(log_file, "a") as err:
        proc = subprocess.Popen([sys.executable, "-m", "node", *args], stdout=subprocess.PIPE,
                                stderr=err, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            return proc, line.split("listening on ", 1)[1].strip()
    proc.kill()
    raise NodeError(f"{name} did not start (exit code {proc.poll()}); see {log_file}")


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def example_lines(folder: str, states: list[str]) -> list[str]:
    """What the demo prints after the logins: one ready search per demo child."""
    from node.importing.demo_children import EXAMPLES, example_command

    out = ["try these searches (the web UI's home page for staff shows them too):"]
    for example in EXAMPLES:
        out.append(f"  {example['title'].lower()}: {example['says']}")
        out.append(f"    {example_command(folder, states, example)}")
    return out


def run_demo(folder: Path, states: list[str], count: int, seed: int, password: str | None,
             say: Callable[[str], None], *, wait: bool = True) -> list[subprocess.Popen[str]]:
    manifest_path = folder / "demo.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        say(f"reusing the demo in {folder} (states {', '.join(manifest['states'])})")
    else:
        manifest = create(folder, states, count, seed, password, say)
    procs: list[subprocess.Popen[str]] = []
    try:
        proc, url = start(["directory", "serve", "-c", str(folder / "directory" /
                                                              "directory.toml")], "directory",
                           folder / "directory" / "directory.log")
        procs.append(proc)
        say(f"directory  {url}")
        for state in manifest["states"]:
            proc, url = start(["serve", "-c", str(folder / state / "node.toml")], state,
                              folder / state / "node.log")
            procs.append(proc)
            say(f"{state:<10} {url}/")
        for state in manifest["states"]:
            for role, pw in manifest["users"][state].items():
                say(f"  {state} login: user {role!r} password {pw!r}")
        for line in example_lines(str(folder), manifest["states"]):
            say(line)
        if not wait:
            return procs
        say(f"logs: {folder}/*/node.log")
        say("press Ctrl-C to stop")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        say("a service stopped; stopping the others")
    except KeyboardInterrupt:
        say("stopping")
    finally:
        if wait:
            stop_all(procs)
    return procs
